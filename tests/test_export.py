"""`stacker export series` and `stacker export wheel` on a bundle built from a small real upstream."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.gitrepos import Upstream, git

# A package shaped like the real one: a sub-directory of the repository holding its own
# pyproject.toml and mapping itself onto a dotted package name (`toy.attn` from `toy/attn/`).
PYPROJECT = textwrap.dedent("""\
    [build-system]
    requires = ["setuptools>=68"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "toy-attn"
    version = "0.0.0"
    description = "A toy attention package"
    requires-python = ">=3.9"

    [tool.setuptools]
    packages = ["toy.attn"]
    package-dir = {"toy.attn" = "."}
    """)
BASE_FILES = {
    "toy/attn/pyproject.toml": PYPROJECT,
    "toy/attn/__init__.py": "from .kernel import launch\n",
    "toy/attn/kernel.py": "def launch(grid, block):\n    return (grid, block)\n",
    "README": "hello\n",
    "assets/logo.bin": "\x00\x01binary\x00\n",
}


def _stack(directory: Path, upstream: Path, package: str = "toy/attn", tags: str | None = "toy-v*") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["name: test-bundle", f"upstream: {upstream}", "prs:", "  - number: 1", "  - number: 2",
             "package:", f"  path: {package}"]
    if tags:
        lines.append(f"  version_tags: \"{tags}\"")
    (directory / "stack.yaml").write_text("\n".join(lines) + "\n")
    return directory / "stack.yaml"


@pytest.fixture
def built(tmp_path: Path, upstream: Upstream, run_cli) -> Path:
    """A published two-PR bundle on a base one commit past the release tag toy-v1.2.0.beta3."""
    release = upstream.commit(BASE_FILES, "initial")
    git(upstream.path, "tag", "toy-v1.2.0.beta3", release)
    git(upstream.path, "tag", "toy-v1.1.0", release)  # older release at the same commit: not the one
    git(upstream.path, "tag", "other-v9.0", release)  # not matched by the glob
    base = upstream.commit({"README": "hello, after the release\n"}, "upstream moves")
    upstream.pr(1, {"toy/attn/kernel.py": "def launch(grid, block, paged=False):\n    return (grid, block)\n",
                    "toy/attn/paged.py": "PAGE = 16\n"}, "Paged KV", base)
    upstream.pr(2, {"README": None, "assets/logo.bin": "\x00\x02binary, new\x00\n"}, "Drop README, new logo", base)
    stack = _stack(tmp_path / "s", upstream.path)
    code, out, err = run_cli("build", "--stack", str(stack))
    assert code == 0, out + err
    return stack


def _bundle(stack: Path, what: str = "refs/heads/bundle/test-bundle") -> str:
    return git(stack.parent / ".stacker" / "repo.git", "rev-parse", what)


def test_series_git_am_onto_base_gives_the_bundle_tree(tmp_path: Path, upstream: Upstream, built: Path,
                                                       run_cli) -> None:
    out = tmp_path / "series"
    code, stdout, err = run_cli("export", "series", "--stack", str(built), "--out", str(out), "--json")
    assert code == 0, err
    report = json.loads(stdout)
    repo = built.parent / ".stacker" / "repo.git"
    head = _bundle(built)
    assert report["head"] == head and report["verified"] is True
    assert report["base"] == git(upstream.path, "rev-parse", "main")
    assert report["binary_files"] == ["assets/logo.bin"]
    series = (out / "series").read_text().splitlines()
    assert series[0].startswith("# stacker series of bundle 'test-bundle'")
    assert f"# base: main at {report['base']} of {upstream.path}" in series
    assert f"# head: {head} (tree {_bundle(built, head + '^{tree}')})" in series
    files = [line for line in series if not line.startswith("#")]
    assert files == [p["file"] for p in report["patches"]] and len(files) == 2
    assert "Stacker-PR: 1" in (out / files[0]).read_text()  # trailers kept

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(upstream.path), str(clone))
    git(clone, "checkout", "-q", report["base"])
    env = {"GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com"}
    git(clone, "am", "-q", *(str(out / f) for f in files), env=env)
    assert git(clone, "rev-parse", "HEAD^{tree}") == git(repo, "rev-parse", f"{head}^{{tree}}")
    assert git(clone, "log", "-2", "--format=%s").splitlines() == ["Apply PR #2: Drop README, new logo",
                                                                   "Apply PR #1: Paged KV"]

    # patch -p1 on a plain export of the base (a release tarball): the text files come out right
    plain = tmp_path / "plain"
    plain.mkdir()
    subprocess.run(f"git -C {upstream.path} archive {report['base']} | tar -x -C {plain}", shell=True, check=True)
    for f in files:
        done = subprocess.run(["patch", "-p1", "--batch", "--no-backup-if-mismatch", "-i", str(out / f)], cwd=plain,
                              capture_output=True, text=True)
        assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: the binary hunk it cannot do
    assert (plain / "toy/attn/paged.py").read_text() == "PAGE = 16\n"
    assert "paged=False" in (plain / "toy/attn/kernel.py").read_text()
    assert not (plain / "README").exists()


def test_series_refuses_a_foreign_directory_and_replaces_its_own(tmp_path: Path, built: Path, run_cli) -> None:
    out = tmp_path / "series"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    code, _, err = run_cli("export", "series", "--stack", str(built), "--out", str(out))
    assert code == 2 and "not empty" in err and (out / "notes.txt").read_text() == "mine\n"
    fresh = tmp_path / "fresh"
    assert run_cli("export", "series", "--stack", str(built), "--out", str(fresh))[0] == 0
    first = {p.name: p.read_bytes() for p in fresh.iterdir()}
    assert run_cli("export", "series", "--stack", str(built), "--out", str(fresh))[0] == 0
    assert {p.name: p.read_bytes() for p in fresh.iterdir()} == first  # same head, same bytes


def test_export_before_any_build_is_a_one_line_error(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    stack = _stack(tmp_path / "s", upstream.path)
    code, _, err = run_cli("export", "wheel", "--stack", str(stack), "--out", str(tmp_path / "w"))
    assert code == 2 and "no bundle has been built here yet" in err and len(err.strip().splitlines()) == 1


def _fresh_venv_version(tmp_path: Path, wheel: Path) -> str:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                    "--no-index", "--no-deps", str(wheel)], check=True, env={**os.environ, "PIP_NO_INPUT": "1"})
    code = "import importlib.metadata as m, toy.attn; print(m.version('toy-attn'), toy.attn.launch(1, 2))"
    return subprocess.run([str(venv / "bin" / "python"), "-c", code], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_wheel_installs_in_a_fresh_venv_with_the_local_version(tmp_path: Path, built: Path, run_cli) -> None:
    code, out, err = run_cli("export", "wheel", "--stack", str(built), "--out", str(tmp_path / "w1"),
                             "--no-build-isolation", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    head = _bundle(built)
    short = head[:7] if not (head[:7].isdigit() and head[0] == "0") else "g" + head[:7]
    expected = f"1.2.0b3+test.bundle.{short}"
    assert report["version"] == expected
    assert report["base_version"] == {"version": "1.2.0b3", "tag": "toy-v1.2.0.beta3", "commits_since_tag": 1,
                                      "source": "tag"}
    wheel = Path(report["wheel"])
    assert wheel.name == f"toy_attn-{expected}-py3-none-any.whl"
    assert _fresh_venv_version(tmp_path, wheel) == f"{expected} (1, 2)"

    # the same head again, from a second build directory: byte for byte the same wheel
    code, out, err = run_cli("export", "wheel", "--stack", str(built), "--out", str(tmp_path / "w2"),
                             "--no-build-isolation", "--json")
    assert code == 0, err
    again = Path(json.loads(out)["wheel"])
    assert hashlib.sha256(again.read_bytes()).hexdigest() == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert json.loads(out)["sha256"] == report["sha256"]


def test_wheel_without_version_tags_takes_the_packages_own_version(tmp_path: Path, upstream: Upstream,
                                                                   run_cli) -> None:
    base = upstream.commit({**BASE_FILES, "toy/attn/pyproject.toml": PYPROJECT.replace("0.0.0", "0.3.1")}, "initial")
    upstream.pr(1, {"toy/attn/paged.py": "PAGE = 16\n"}, "paged", base)
    upstream.pr(2, {"README": "hi\n"}, "readme", base)
    stack = _stack(tmp_path / "s", upstream.path, tags=None)
    assert run_cli("build", "--stack", str(stack))[0] == 0
    code, out, err = run_cli("export", "wheel", "--stack", str(stack), "--out", str(tmp_path / "w"),
                             "--no-build-isolation", "--check-install", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["version"].startswith("0.3.1+test.bundle.")
    assert report["base_version"]["source"] == "package"
    assert report["install_check"]["version"] == report["version"]
    assert f"Version: {report['version']}" in report["install_check"]["pip_show"]


def test_wheel_of_a_path_without_a_package_is_a_config_error(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = upstream.commit(BASE_FILES, "initial")
    git(upstream.path, "tag", "toy-v1.0", base)
    upstream.pr(1, {"x.py": "x = 1\n"}, "x", base)
    upstream.pr(2, {"y.py": "y = 1\n"}, "y", base)
    stack = _stack(tmp_path / "s", upstream.path, package="toy")
    assert run_cli("build", "--stack", str(stack))[0] == 0
    code, _, err = run_cli("export", "wheel", "--stack", str(stack), "--out", str(tmp_path / "w"))
    assert code == 2 and "stack.yaml:7: package path 'toy' has no pyproject.toml or setup.py" in err


@pytest.mark.parametrize("base, name, head, expected", [
    ("4.0.0b27", "sncbl-sm120", "abc1234" + "0" * 33, "4.0.0b27+sncbl.sm120.abc1234"),
    ("4.0.0.beta27", "Sncbl_SM120", "9802278" + "0" * 33, "4.0.0b27+sncbl.sm120.9802278"),
    ("1.0", "b", "0123456" + "0" * 33, "1.0+b.g0123456"),  # a leading zero would be dropped: keep it as text
    ("2.1.0+cu130", "b", "abcdef0" + "0" * 33, "2.1.0+b.abcdef0"),  # the base's own local part gives way
])
def test_local_version_is_pep440_normalized(base: str, name: str, head: str, expected: str) -> None:
    from packaging.version import Version

    from stacker.package_version import local_version

    assert local_version(base, name, head) == expected == str(Version(expected))


@pytest.mark.parametrize("tag, pattern, expected", [
    ("fa4-v4.0.0.beta27", "fa4-v*", "4.0.0b27"),
    ("v1.2.3", "v*", "1.2.3"),
    ("release-2.0rc1-final", "release-*-final", "2.0rc1"),
    ("fa4-vnext", "fa4-v*", None),
])
def test_tag_version_strips_the_glob_decoration(tag: str, pattern: str, expected: str | None) -> None:
    from stacker.package_version import tag_version

    version = tag_version(tag, pattern)
    assert (str(version) if version else None) == expected
