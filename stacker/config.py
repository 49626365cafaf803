"""stack.yaml → a typed `Stack`, validated up front.

Every mistake is reported as one line naming `stack.yaml:LINE`, so the parser works on PyYAML's
node graph (which keeps line marks) rather than on the plain objects `yaml.safe_load` returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stacker.errors import ConfigError
from stacker.patchfile import PatchFormatError, read_patch

DEFAULT_BRANCH_PREFIX = "bundle/"
_REF_NAME = re.compile(r"^[A-Za-z0-9._/@+-]+$")


@dataclass(frozen=True)
class PullRequest:
    """One upstream pull request in the stack, in stack order."""

    number: int
    title: str | None = None
    includes: tuple[int, ...] = ()
    line: int = 0  # line in stack.yaml, for error messages

    @property
    def label(self) -> str:
        extra = "".join(f" (+#{n})" for n in self.includes)
        return f"#{self.number}{extra}"


@dataclass(frozen=True)
class PatchEntry:
    """A maintainer's own patch file applied as a step of its own, after PR `after`."""

    file: Path
    after: int | None
    line: int = 0


@dataclass(frozen=True)
class VerifyCommand:
    """A command run on the exported bundle tree before publishing; non-zero exit stops the build."""

    name: str
    run: str
    line: int = 0
    # When `run` fails, stacker finds the first step that breaks it. `bisect` (optional) is a cheaper
    # command for that search; `{failing}` in it is filled with group 1 of the `failing` regex
    # matched against the failed run's output (e.g. the one kernel variant that failed).
    bisect: str | None = None
    failing: str | None = None


@dataclass(frozen=True)
class PackageSpec:
    """The bundle's Python package: where it lives in the tree and how its version is derived."""

    path: str
    version_tags: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Stack:
    """The parsed stack.yaml. Paths are absolute, resolved against the file's directory."""

    path: Path
    name: str
    upstream: str
    base: str
    branch: str
    prs: tuple[PullRequest, ...]
    target: str | None = None
    resolutions: Path | None = None
    patches: tuple[PatchEntry, ...] = ()
    verify: tuple[VerifyCommand, ...] = ()
    package: PackageSpec | None = None
    kernels: Path | None = None
    validate: Path | None = None
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def pr_numbers(self) -> tuple[int, ...]:
        """Every PR the stack knows: listed PRs and the ones they include."""
        seen: list[int] = []
        for pr in self.prs:
            for n in (*pr.includes, pr.number):
                if n not in seen:
                    seen.append(n)
        return tuple(seen)

    def lock_path(self) -> Path:
        return self.root / "stack.lock"


class _Reader:
    """Typed access to a YAML node, raising `ConfigError` with `file:line`."""

    def __init__(self, path: Path):
        self.path = path

    def where(self, node: yaml.Node) -> str:
        return f"{self.path.name}:{node.start_mark.line + 1}"

    def fail(self, node: yaml.Node, message: str) -> ConfigError:
        return ConfigError(f"{self.where(node)}: {message}")

    def mapping(self, node: yaml.Node, what: str, known: set[str]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key not in known:
                allowed = ", ".join(sorted(known))
                raise self.fail(key_node, f"unknown key '{key}' in {what} (allowed: {allowed})")
            if key in out:
                raise self.fail(key_node, f"duplicate key '{key}' in {what}")
            out[key] = value_node
        return out

    def string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            raise self.fail(node, f"{what} must be a string")
        if not node.value.strip():
            raise self.fail(node, f"{what} must not be empty")
        return node.value

    def integer(self, node: yaml.Node, what: str) -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
            raise self.fail(node, f"{what} must be an integer, got '{getattr(node, 'value', node)}'")
        value = int(node.value, 0)
        if value <= 0:
            raise self.fail(node, f"{what} must be a positive integer, got {value}")
        return value

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def ref_name(self, node: yaml.Node, what: str) -> str:
        value = self.string(node, what)
        if not _REF_NAME.match(value) or ".." in value or value.endswith((".lock", "/")):
            raise self.fail(node, f"{what} '{value}' is not a valid git ref name")
        return value


_TOP_KEYS = {
    "name", "upstream", "base", "target", "branch", "prs", "resolutions", "patches", "verify",
    "package", "kernels", "validate",
}


def load_stack(path: Path | str) -> Stack:
    """Parse and validate stack.yaml; every error names `stack.yaml:LINE`."""
    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run stacker where stack.yaml is, or pass --stack)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_stack(text, path)


def parse_stack(text: str, path: Path) -> Stack:
    reader = _Reader(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{path.name}:{line}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: invalid YAML: {exc}") from None
    if root is None:
        raise ConfigError(f"{path.name}:1: the file is empty; it needs at least 'name' and 'prs'")
    top = reader.mapping(root, "stack.yaml", _TOP_KEYS)
    for required in ("name", "prs"):
        if required not in top:
            raise ConfigError(f"{reader.where(root)}: missing required key '{required}'")

    name = reader.string(top["name"], "'name'")
    if not re.match(r"^[A-Za-z0-9._-]+$", name):
        raise reader.fail(top["name"], f"'name' may hold letters, digits, '.', '_' and '-' only, got '{name}'")
    upstream = reader.string(top["upstream"], "'upstream'") if "upstream" in top else None
    if upstream is None:
        raise ConfigError(f"{reader.where(root)}: missing required key 'upstream' (a git URL or path)")
    base = reader.ref_name(top["base"], "'base'") if "base" in top else "main"
    target = reader.ref_name(top["target"], "'target'") if "target" in top else None
    branch = reader.ref_name(top["branch"], "'branch'") if "branch" in top else DEFAULT_BRANCH_PREFIX + name

    prs = _parse_prs(reader, top["prs"])
    numbers = {pr.number for pr in prs}
    patches = _parse_patches(reader, top.get("patches"), numbers, path.parent)
    verify = _parse_verify(reader, top.get("verify"))
    package = _parse_package(reader, top.get("package"))

    def directory(key: str, default: str | None) -> Path | None:
        if key in top:
            return (path.parent / reader.string(top[key], f"'{key}'")).resolve()
        if default is not None and (path.parent / default).is_dir():
            return (path.parent / default).resolve()
        return None

    return Stack(
        path=path,
        name=name,
        upstream=upstream,
        base=base,
        target=target,
        branch=branch,
        prs=tuple(prs),
        resolutions=directory("resolutions", "resolutions"),
        patches=patches,
        verify=verify,
        package=package,
        kernels=directory("kernels", None),
        validate=directory("validate", None),
    )


def _parse_prs(reader: _Reader, node: yaml.Node) -> list[PullRequest]:
    items = reader.sequence(node, "'prs'")
    if not items:
        raise reader.fail(node, "'prs' is empty: list at least one pull request")
    prs: list[PullRequest] = []
    seen: dict[int, int] = {}
    for item in items:
        if isinstance(item, yaml.ScalarNode):
            fields = {"number": item}
        else:
            fields = reader.mapping(item, "a 'prs' entry", {"number", "title", "includes"})
        if "number" not in fields:
            raise reader.fail(item, "a 'prs' entry needs 'number'")
        number = reader.integer(fields["number"], "PR 'number'")
        title = reader.string(fields["title"], "PR 'title'") if "title" in fields else None
        includes: list[int] = []
        if "includes" in fields:
            for inc in reader.sequence(fields["includes"], f"'includes' of PR #{number}"):
                includes.append(reader.integer(inc, f"an 'includes' entry of PR #{number}"))
        line = item.start_mark.line + 1
        for n, node_for_n in [(number, fields["number"])] + [(i, fields["includes"]) for i in includes]:
            if n in seen:
                raise reader.fail(node_for_n, f"PR #{n} is listed twice (first at line {seen[n]})")
            seen[n] = line
        prs.append(PullRequest(number=number, title=title, includes=tuple(includes), line=line))
    return prs


def _parse_patches(reader: _Reader, node: yaml.Node | None, numbers: set[int], root: Path) -> tuple[PatchEntry, ...]:
    if node is None:
        return ()
    entries: list[PatchEntry] = []
    seen: dict[Path, int] = {}
    for item in reader.sequence(node, "'patches'"):
        fields = reader.mapping(item, "a 'patches' entry", {"file", "after"})
        if "file" not in fields:
            raise reader.fail(item, "a 'patches' entry needs 'file'")
        written = reader.string(fields["file"], "patch 'file'")
        file = (root / written).resolve()
        after = reader.integer(fields["after"], "patch 'after'") if "after" in fields else None
        if after is not None and after not in numbers:
            raise reader.fail(fields["after"], f"patch 'after: {after}' names no PR of the stack")
        if file in seen:
            raise reader.fail(fields["file"], f"patch '{written}' is listed twice (first at line {seen[file]})")
        seen[file] = item.start_mark.line + 1
        try:
            read_patch(file)  # a missing or unparsable patch is a config error, before anything is fetched
        except PatchFormatError as exc:
            raise reader.fail(fields["file"], f"patch '{written}': {exc}") from None
        entries.append(PatchEntry(file=file, after=after, line=item.start_mark.line + 1))
    return tuple(entries)


def _parse_verify(reader: _Reader, node: yaml.Node | None) -> tuple[VerifyCommand, ...]:
    if node is None:
        return ()
    commands: list[VerifyCommand] = []
    names: set[str] = set()
    for item in reader.sequence(node, "'verify'"):
        fields = reader.mapping(item, "a 'verify' entry", {"name", "run", "bisect", "failing"})
        for key in ("name", "run"):
            if key not in fields:
                raise reader.fail(item, f"a 'verify' entry needs '{key}'")
        name = reader.string(fields["name"], "verify 'name'")
        if name in names:
            raise reader.fail(fields["name"], f"verify name '{name}' is used twice")
        names.add(name)
        bisect = reader.string(fields["bisect"], "verify 'bisect'") if "bisect" in fields else None
        failing = reader.string(fields["failing"], "verify 'failing'") if "failing" in fields else None
        if failing is not None:
            try:
                groups = re.compile(failing).groups
            except re.error as exc:
                raise reader.fail(fields["failing"], f"verify 'failing' is not a valid regex: {exc}") from None
            if groups < 1:
                raise reader.fail(fields["failing"], "verify 'failing' needs a group: what to put into {failing}")
        if bisect is not None and "{failing}" in bisect and failing is None:
            raise reader.fail(fields["bisect"], "verify 'bisect' uses {failing} but the entry has no 'failing' regex")
        commands.append(VerifyCommand(name=name, run=reader.string(fields["run"], "verify 'run'"),
                                      line=item.start_mark.line + 1, bisect=bisect, failing=failing))
    return tuple(commands)


def _parse_package(reader: _Reader, node: yaml.Node | None) -> PackageSpec | None:
    if node is None:
        return None
    fields = reader.mapping(node, "'package'", {"path", "version_tags"})
    if "path" not in fields:
        raise reader.fail(node, "'package' needs 'path' (the package directory in the upstream tree)")
    tags = reader.string(fields["version_tags"], "package 'version_tags'") if "version_tags" in fields else None
    return PackageSpec(path=reader.string(fields["path"], "package 'path'").strip("/"), version_tags=tags,
                       line=node.start_mark.line + 1)
