"""`stacker merge-file`: exit codes, fallbacks, and the git merge driver in a real `git merge`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import stacker

BASE = """\
def forward(q, k, stream):
    scale = 1.0
    kernel(q, k).launch(
        grid=grid,
        stream=stream,
    )
    return scale
"""


def version(kwarg: str = "", scale: str = "1.0") -> str:
    text = BASE.replace("    scale = 1.0\n", f"    scale = {scale}\n")
    return text.replace("        grid=grid,\n", f"        grid=grid,\n{kwarg}")


def retuned(text: str) -> str:
    """The launch's `grid` keyword given another value (next to where `version` adds keywords)."""
    return text.replace("        grid=grid,\n", "        grid=grid_for(q),\n")


def write(folder: Path, **files: str) -> dict[str, Path]:
    paths = {}
    for name, text in files.items():
        path = folder / f"{name}.py"
        path.write_text(text)
        paths[name] = path
    return paths


def test_clean_merge_writes_ours_and_exits_0(tmp_path, run_cli):
    p = write(tmp_path, base=BASE, ours=version("        smem=4096,\n"), theirs=version("        cluster=2,\n"))
    code, out, err = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), "--path", "attn.py",
                             "--stack-order")
    assert code == 0
    assert p["ours"].read_text() == version("        smem=4096,\n        cluster=2,\n")
    assert "call-arguments" in err  # what was merged structurally, on stderr


def test_conflict_left_exits_1_with_markers_of_the_given_size(tmp_path, run_cli):
    p = write(tmp_path, base=BASE, ours=version(scale="2.0"), theirs=version(scale="3.0"))
    out_file = tmp_path / "out.py"
    code, _, _ = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), "--path", "attn.py",
                         "--marker-size", "10", "-o", str(out_file), "--diff3", "-L", "HEAD", "-L", "base",
                         "-L", "feature")
    assert code == 1
    text = out_file.read_text()
    assert "<" * 10 + " HEAD\n    scale = 2.0\n" + "|" * 10 + " base\n    scale = 1.0\n" + "=" * 10 in text
    assert ">" * 10 + " feature\n" in text
    assert p["ours"].read_text() == version(scale="2.0")  # -o leaves OURS alone


def test_no_diff3_leaves_out_the_base_section(tmp_path, run_cli):
    p = write(tmp_path, base=BASE, ours=version(scale="2.0"), theirs=version(scale="3.0"))
    code, out, _ = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), "--no-diff3", "-o", "-")
    assert code == 1
    assert "|||||||" not in out and "<<<<<<< ours\n    scale = 2.0\n=======\n    scale = 3.0\n>>>>>>> theirs\n" in out


def test_bad_input_exits_2_with_one_line(tmp_path, run_cli):
    p = write(tmp_path, base=BASE, ours=BASE)
    code, out, err = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(tmp_path / "missing.py"))
    assert code == 2
    assert err.strip().count("\n") == 0 and "missing.py: no such file" in err
    binary = tmp_path / "blob.py"
    binary.write_bytes(b"\x00\x01")
    code, _, err = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(binary))
    assert code == 2 and "binary" in err
    code, _, _ = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["ours"]), "--marker-size", "0")
    assert code == 2


def _git_merge_file(tmp_path: Path, base: str, ours: str, theirs: str) -> str:
    for name, text in (("g_base", base), ("g_ours", ours), ("g_theirs", theirs)):
        (tmp_path / name).write_text(text)
    return subprocess.run(["git", "merge-file", "-p", "--diff3", "-L", "ours", "-L", "base", "-L", "theirs",
                           str(tmp_path / "g_ours"), str(tmp_path / "g_base"), str(tmp_path / "g_theirs")],
                          capture_output=True, text=True).stdout


def test_non_python_file_gets_exactly_the_line_merge(tmp_path, run_cli):
    base, ours, theirs = BASE, version("        smem=4096,\n"), version("        cluster=2,\n")
    p = write(tmp_path, base=base, ours=ours, theirs=theirs)
    code, out, _ = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), "--path", "notes.txt",
                           "--diff3", "-o", "-")
    assert code == 1
    assert out == _git_merge_file(tmp_path, base, ours, theirs)


def test_a_side_that_does_not_parse_gets_the_line_merge(tmp_path, run_cli):
    base, ours = BASE, version("        smem=4096,\n")
    theirs = version("        cluster=2,\n").replace("return scale", "return (scale")
    p = write(tmp_path, base=base, ours=ours, theirs=theirs)
    code, out, _ = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), "--diff3", "-o", "-")
    assert code == 1
    assert out == _git_merge_file(tmp_path, base, ours, theirs)


def test_fallbacks_get_the_line_merge_even_where_a_later_layer_would_combine(tmp_path, run_cli):
    # neighbouring lines, none edited twice: the adjacent-edits layer would combine them in a
    # Python file; a non-Python file, or a Python file with a side that does not parse, gets
    # exactly git's line merge
    base, ours, theirs = "a = 1\nb = 2\nc = 3\n", "a = 10\nb = 2\nc = 3\n", "a = 1\nb = 20\nc = 3\n"
    broken = theirs + "def (\n"
    for name, sides in (("notes.txt", (base, ours, theirs)), ("f.py", (base, ours, broken))):
        p = write(tmp_path, base=sides[0], ours=sides[1], theirs=sides[2])
        code, out, _ = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), "--path", name,
                               "--diff3", "-o", "-")
        assert code == 1
        assert out == _git_merge_file(tmp_path, *sides)
    p = write(tmp_path, base=base, ours=ours, theirs=theirs)  # the same edits in Python: combined
    assert run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), "--path", "f.py")[0] == 0


def test_an_order_choice_is_left_to_a_human_unless_stack_order(tmp_path, run_cli):
    # both sides added a keyword argument at one place: either order is correct, so the default
    # (and --strict) leaves the choice; --stack-order keeps both, ours first (test above)
    for flags in ((), ("--strict",)):
        p = write(tmp_path, base=BASE, ours=version("        smem=4096,\n"), theirs=version("        cluster=2,\n"))
        code, _, _ = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), *flags)
        assert code == 1


def test_the_driver_runs_the_builds_generic_layers(tmp_path, run_cli):
    # a note inserted before a docstring line the other side rewrote: prose, which the structural
    # layer leaves alone; the adjacent-edits layer (run by `stacker build` after the structural
    # one) combines the two edits, since no line was edited twice
    base = 'def f():\n    """Do things.\n\n    First paragraph\n    of text.\n    """\n    return 1\n'
    ours = base.replace("    First paragraph\n", "    .. versionadded:: 2.0\n\n    First paragraph\n")
    theirs = base.replace("    First paragraph\n", "    The first paragraph\n")
    p = write(tmp_path, base=base, ours=ours, theirs=theirs)
    code, _, err = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), "--path", "f.py")
    assert code == 0
    assert p["ours"].read_text() == ours.replace("    First paragraph\n", "    The first paragraph\n")
    assert "stacker: merged adjacent line 4: the sides edited neighbouring lines" in err


# -- the driver in a real `git merge` ----------------------------------------------------------

def git(repo: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {done.stderr}")
    return done


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict]:
    repo = tmp_path / "repo"
    repo.mkdir()
    root = str(Path(stacker.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
           "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.com", "GIT_COMMITTER_NAME": "A",
           "GIT_COMMITTER_EMAIL": "a@example.com", "LC_ALL": "C"}
    git(repo, "init", "-q", "-b", "main", env=env)
    driver = f"{sys.executable} -m stacker merge-file %O %A %B --path %P --marker-size %L"
    git(repo, "config", "merge.stacker.name", "stacker structural merge", env=env)
    git(repo, "config", "merge.stacker.driver", driver, env=env)
    (repo / ".gitattributes").write_text("*.py merge=stacker\n")
    return repo, env


def _commit(repo: Path, env: dict, branch: str, text: str, message: str) -> None:
    if git(repo, "rev-parse", "--verify", "-q", "HEAD", env=env, check=False).returncode == 0:
        git(repo, "checkout", "-q", branch, env=env)
    (repo / "attn.py").write_text(text)
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", message, env=env)


def test_git_merge_resolves_what_the_structural_layer_can(repo):
    repo, env = repo
    _commit(repo, env, "main", BASE, "base")
    git(repo, "branch", "feature", env=env)
    _commit(repo, env, "main", version("        smem=4096,\n"), "ours: smem")
    _commit(repo, env, "feature", retuned(BASE), "theirs: another grid")
    git(repo, "checkout", "-q", "main", env=env)
    done = git(repo, "merge", "-q", "--no-edit", "feature", env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (repo / "attn.py").read_text() == retuned(version("        smem=4096,\n"))


def test_git_merge_reports_the_conflict_the_layer_leaves(repo):
    repo, env = repo
    _commit(repo, env, "main", BASE, "base")
    git(repo, "branch", "feature", env=env)
    _commit(repo, env, "main", version("        smem=4096,\n", scale="2.0"), "ours")
    _commit(repo, env, "feature", retuned(version(scale="3.0")), "theirs")
    git(repo, "checkout", "-q", "main", env=env)
    done = git(repo, "merge", "--no-edit", "feature", env=env, check=False)
    assert done.returncode != 0
    assert "CONFLICT" in done.stdout and "attn.py" in done.stdout
    text = (repo / "attn.py").read_text()
    assert "<<<<<<<" in text and "    scale = 2.0\n" in text and "    scale = 3.0\n" in text
    # The launch kwargs were merged; only the scale line is left to a human.
    assert "        grid=grid_for(q),\n        smem=4096,\n" in text
    assert text.count("<<<<<<<") == 1
    assert git(repo, "diff", "--name-only", "--diff-filter=U", env=env).stdout.split() == ["attn.py"]


def test_clean_line_merge_that_does_not_compile_becomes_a_conflict(tmp_path, run_cli):
    # Both sides add the same keyword on different lines: git merges cleanly, Python refuses
    # `launch(beta=1, alpha=1, beta=1)`. The driver does not pass that on.
    base = "launch(\n    alpha=1,\n)\n"
    p = write(tmp_path, base=base, ours="launch(\n    beta=1,\n    alpha=1,\n)\n",
              theirs="launch(\n    alpha=1,\n    beta=1,\n)\n")
    code, out, err = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), "-o", "-")
    assert code == 1
    assert out.startswith("launch(\n<<<<<<< ours\n") and "does not compile" in err


def test_a_result_using_a_name_the_other_side_renamed_becomes_a_conflict(tmp_path, run_cli):
    # theirs renamed the loop variable; ours inserted a line that uses the old name. No line is
    # edited twice, so the adjacent-edits layer combines them, and the file parses and compiles:
    # only the names tell that `node` is now undefined there.
    base = ("def link(doc):\n    for node in doc.refs:\n        text = node.text\n"
            "        ref = make(text)\n        node.parent.replace(node, ref)\n")
    ours = base.replace("        ref = make(text)\n", "        ref = make(text)\n        ref.classes = node.classes\n")
    theirs = base.replace("node", "citation")
    p = write(tmp_path, base=base, ours=ours, theirs=theirs)
    code, out, err = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), "-o", "-")
    assert code == 1
    assert "<<<<<<< ours" in out
    assert "the merge is clean but the merged code has an undefined name `node` that neither side has" in err


ELIF_CHAIN = "def pick(a):\n    if a == 0:\n        return 0\n" + "".join(
    f"    elif a == {i}:\n        return {i}\n" for i in range(1, 1200))
LONG_SUM = "total = " + " + ".join(["a"] * 2000) + "\n"


@pytest.mark.parametrize("body", [ELIF_CHAIN, LONG_SUM], ids=["elif-chain", "long-sum"])
@pytest.mark.parametrize("theirs_edit", [("z = 0", "z = 9"), ("a = 1", "a = 1\nc = 1")], ids=["git-clean", "conflict"])
def test_a_file_nested_too_deeply_to_analyse_gets_the_line_merge(tmp_path, run_cli, body, theirs_edit):
    # ast and libcst visitors (and pyflakes) recurse once per nesting level: a 1,200-branch elif
    # chain or a sum of 2,000 terms (generated code has both) exhausts the stack. The driver does
    # not crash: it gives git's line merge, clean where git's is, markers where git's has them.
    base = "a = 1\n" + body + "z = 0\n"
    ours, theirs = base.replace("a = 1", "a = 2\nb = 1"), base.replace(*theirs_edit)
    p = write(tmp_path, base=base, ours=ours, theirs=theirs)
    code, out, err = run_cli("merge-file", str(p["base"]), str(p["ours"]), str(p["theirs"]), "-o", "-")
    if theirs_edit[0] == "z = 0":
        assert (code, out) == (0, ours.replace("z = 0", "z = 9"))
        assert "nested too deeply to check git's clean merge of it" in err
    else:
        assert code == 1 and out.startswith("<<<<<<< ours\na = 2\nb = 1\n")
        assert "nested too deeply to check a merge of its structure: git's line merge alone" in err
