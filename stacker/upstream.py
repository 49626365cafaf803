"""Fetching exactly what a stack needs from upstream into stacker's repository.

Only the base, the branch PRs target and `refs/pull/N/head` of the stack's PRs are fetched —
never all of `refs/pull/*`, which on a busy upstream is thousands of refs. The names and SHAs of
all PR heads are listed (ls-remote, no objects) so that a PR whose head lies inside a stack PR's own
commits is known as an included PR even when stack.yaml does not list it; its ref is recorded
locally (its commits came with the stack PR) so that offline builds see the same. Fetched refs live
under `refs/stacker/upstream/` so they never mix with the bundle branch or anything of the user's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from stacker.config import Stack
from stacker.errors import UpstreamError
from stacker.gitrepo import Repository

PREFIX = "refs/stacker/upstream"
_HEX = re.compile(r"^[0-9a-f]{7,40}$")
_PULL_HEAD = re.compile(r"^refs/pull/(\d+)/head$")
_LOCAL_PULL_HEAD = re.compile(rf"^{PREFIX}/pull/(\d+)/head$")


def pr_ref(number: int) -> str:
    return f"refs/pull/{number}/head"


def local_pr_ref(number: int) -> str:
    return f"{PREFIX}/pull/{number}/head"


@dataclass(frozen=True)
class UpstreamRefs:
    """The commits a build starts from, as resolved (and fetched) from upstream."""

    url: str
    base_name: str
    base: str
    target_name: str
    target: str
    heads: dict[int, str]
    # other PRs whose heads are among the stack PRs' own commits (candidates for included PRs)
    others: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Want:
    """What to fetch: names as the stack gives them."""

    base: str
    target: str
    prs: dict[int, int]  # PR number -> stack.yaml line (for errors)
    tags: str | None = None  # a glob of release tags, e.g. "fa4-v*"


def wants_for(stack: Stack, base_override: str | None) -> Want:
    lines: dict[int, int] = {}
    for pr in stack.prs:
        for n in (pr.number, *pr.includes):
            lines.setdefault(n, pr.line)
    return Want(
        base=base_override or stack.base,
        target=stack.target or stack.base,
        prs=lines,
        tags=stack.package.version_tags if stack.package else None,
    )


def fetch(repo: Repository, url: str, want: Want) -> UpstreamRefs:
    """ls-remote to check every name exists (precise errors), then one fetch of just those refs."""
    advertised = _ls_remote(repo, url, want)
    refspecs: list[str] = []
    for name in {want.base, want.target}:
        kind = _classify(name, advertised)
        if kind == "branch":
            refspecs.append(f"+refs/heads/{name}:{PREFIX}/heads/{name}")
        elif kind == "tag":
            refspecs.append(f"+refs/tags/{name}:{PREFIX}/tags/{name}")
        elif repo.rev_parse(name) is None:
            if len(name) < 40:
                raise UpstreamError(f"'{name}' is an abbreviated commit id that stacker has not fetched; "
                                    "give the full 40-character SHA")
            refspecs.append(name)
    for number, line in want.prs.items():
        if pr_ref(number) not in advertised:
            raise UpstreamError(f"stack.yaml:{line}: PR #{number}: upstream {url} has no {pr_ref(number)}")
        refspecs.append(f"+{pr_ref(number)}:{local_pr_ref(number)}")
    if want.tags:
        refspecs.append(f"+refs/tags/{want.tags}:{PREFIX}/tags/{want.tags}")
    status, _, err = repo.run("fetch", "--no-tags", "--no-write-fetch-head", "--quiet", url, *refspecs)
    if status != 0:
        raise UpstreamError(f"fetching from {url} failed: {_last_line(err)}")
    refs = resolve_local(repo, url, want)
    return replace(refs, others={**refs.others, **_record_inner_pulls(repo, advertised, refs)})


def _record_inner_pulls(repo: Repository, advertised: dict[str, str], refs: UpstreamRefs) -> dict[int, str]:
    """Record (and return) the advertised PR heads that are commits of a stack PR, not of the base:
    the PRs a stack PR includes. Their objects came with the stack PR, so nothing more is fetched."""
    pulls = {int(m.group(1)): sha for name, sha in advertised.items() if (m := _PULL_HEAD.match(name))}
    others = {n: sha for n, sha in pulls.items() if n not in refs.heads}
    if not others:
        return {}
    own = set(repo.rev_list(*refs.heads.values(), f"^{refs.base}", f"^{refs.target}"))
    inner = {n: sha for n, sha in sorted(others.items()) if sha in own}
    for number, sha in inner.items():
        repo.git("update-ref", local_pr_ref(number), sha)
    return inner


def resolve_local(repo: Repository, url: str, want: Want) -> UpstreamRefs:
    """The refs as already fetched (for --offline, and after a fetch)."""

    def resolve(name: str, what: str) -> str:
        for candidate in (f"{PREFIX}/heads/{name}", f"{PREFIX}/tags/{name}"):
            sha = repo.rev_parse(candidate)
            if sha:
                return sha
        if _HEX.match(name):
            sha = repo.rev_parse(name)
            if sha:
                return sha
        raise UpstreamError(f"{what} '{name}' has not been fetched from {url}; run without --offline")

    heads = {}
    for number, line in want.prs.items():
        sha = repo.rev_parse(local_pr_ref(number))
        if sha is None:
            raise UpstreamError(f"stack.yaml:{line}: PR #{number} has not been fetched; run without --offline")
        heads[number] = sha
    others = {}
    for name, sha in repo.refs(f"{PREFIX}/pull/").items():
        match = _LOCAL_PULL_HEAD.match(name)
        if match and int(match.group(1)) not in heads:
            others[int(match.group(1))] = sha
    return UpstreamRefs(url=url, base_name=want.base, base=resolve(want.base, "base"),
                        target_name=want.target, target=resolve(want.target, "target branch"), heads=heads,
                        others=others)


def ensure_commits(repo: Repository, url: str, shas: dict[str, str], offline: bool) -> None:
    """Make sure pinned commits (from stack.lock) are present, fetching them by id if needed."""
    missing = {what: sha for what, sha in shas.items() if not repo.has_object(sha)}
    if not missing:
        return
    if offline:
        what, sha = next(iter(missing.items()))
        raise UpstreamError(f"stack.lock pins {what} at {sha[:12]}, which is not fetched; run without --offline")
    status, _, err = repo.run("fetch", "--no-tags", "--no-write-fetch-head", "--quiet", url, *missing.values())
    still = {what: sha for what, sha in missing.items() if not repo.has_object(sha)}
    if status != 0 or still:
        what, sha = next(iter(still.items())) if still else next(iter(missing.items()))
        raise UpstreamError(f"stack.lock pins {what} at {sha[:12]}, which {url} does not serve: {_last_line(err)}")


def _ls_remote(repo: Repository, url: str, want: Want) -> dict[str, str]:
    patterns = [f"refs/heads/{want.base}", f"refs/tags/{want.base}", f"refs/heads/{want.target}",
                f"refs/tags/{want.target}", "refs/pull/*/head"]
    status, out, err = repo.run("ls-remote", url, *patterns)
    if status != 0:
        raise UpstreamError(f"cannot reach upstream {url}: {_last_line(err)}")
    refs = {}
    for line in out.splitlines():
        sha, name = line.split("\t", 1)
        refs[name] = sha
    return refs


def _classify(name: str, advertised: dict[str, str]) -> str:
    if f"refs/heads/{name}" in advertised:
        return "branch"
    if f"refs/tags/{name}" in advertised:
        return "tag"
    if _HEX.match(name):
        return "commit"
    raise UpstreamError(f"upstream has no branch, tag or commit named '{name}'")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no message)"
