"""bench/merge_eval.py's classification, on a small repository with one merge of each kind."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from tests.test_merge_file import BASE, retuned, version

_SPEC = importlib.util.spec_from_file_location("merge_eval", Path(__file__).parent.parent / "bench" / "merge_eval.py")
merge_eval = importlib.util.module_from_spec(_SPEC)
sys.modules["merge_eval"] = merge_eval
_SPEC.loader.exec_module(merge_eval)


def git(repo: Path, *args: str) -> str:
    import subprocess

    env = {**os.environ, "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.com", "GIT_COMMITTER_NAME": "A",
           "GIT_COMMITTER_EMAIL": "a@example.com", "LC_ALL": "C"}
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env)
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def conflicted_merge(repo: Path, name: str, ours: str, theirs: str, human: str) -> None:
    """On main: ours; on a branch from main: theirs; merge it, resolving the conflict as `human`."""
    git(repo, "checkout", "-q", "-b", f"side-{name}")
    commit(repo, {name: theirs}, f"theirs {name}")
    git(repo, "checkout", "-q", "main")
    commit(repo, {name: ours}, f"ours {name}")
    git(repo, "merge", "-q", "--no-edit", f"side-{name}")  # conflicts; the human resolves
    commit(repo, {name: human}, f"Merge {name}")


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("history")
    git(repo, "init", "-q", "-b", "main")
    names = ["identical.py", "same_ast.py", "unresolved.py", "wrong.py"]
    commit(repo, {name: BASE for name in names}, "base")
    smem = "        smem=4096,\n"
    both = retuned(version(smem))  # ours added a launch keyword, theirs changed the one before it
    conflicted_merge(repo, "identical.py", version(smem), retuned(BASE), both)
    conflicted_merge(repo, "same_ast.py", version(smem), retuned(BASE),
                     both.replace("        grid=grid_for(q),\n", "        grid = grid_for(q) ,  # the grid\n"))
    conflicted_merge(repo, "unresolved.py", version(scale="2.0"), version(scale="3.0"), version(scale="2.5"))
    conflicted_merge(repo, "wrong.py", version(smem), retuned(BASE), version(smem))
    # A criss-cross merge: two merge bases, skipped and counted.
    git(repo, "checkout", "-q", "-b", "x")
    commit(repo, {"x.py": "x = 1\n"}, "x")
    git(repo, "checkout", "-q", "-b", "y", "main")
    commit(repo, {"y.py": "y = 1\n"}, "y")
    x_tip, y_tip = git(repo, "rev-parse", "x"), git(repo, "rev-parse", "y")
    git(repo, "merge", "-q", "--no-edit", x_tip)
    git(repo, "checkout", "-q", "x")
    git(repo, "merge", "-q", "--no-edit", y_tip)
    git(repo, "merge", "-q", "--no-edit", "y")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "x")
    return repo


def test_one_merge_of_each_category(history):
    score = merge_eval.evaluate(history, max_merges=50)
    by_path = {f.path: f.category for f in score.files}
    assert by_path == {"identical.py": "identical", "same_ast.py": "same AST", "unresolved.py": "unresolved",
                       "wrong.py": "wrong but clean"}
    assert score.counts()["broken"] == 0
    assert score.skipped["several merge bases"] == 1
    assert score.merges_conflicted == 4
    resolved = {f.path: f.resolved_by for f in score.files}
    assert resolved["identical.py"] == "structural" and resolved["unresolved.py"] == ""
    assert all(f.seconds > 0 for f in score.files)


def test_table_and_json(history, tmp_path, capsys):
    out = tmp_path / "score.json"
    assert merge_eval.main([str(history), "--max-merges", "50", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrong but clean" in printed and "median" in printed
    import json

    [data] = json.loads(out.read_text())
    assert data["counts"]["identical"] == 1 and data["skipped"] == {"several merge bases": 1}
    # The committed doc's table comes from a saved run, without merging again.
    table = tmp_path / "table.md"
    assert merge_eval.main([str(out), "--from-json", "--markdown", str(table)]) == 0
    text = table.read_text()
    assert "| wrong but clean | 1 (25.0%) | 1 (25.0%) |" in text and "| skipped: several merge bases | 1 | 1 |" in text


def test_broken_means_clean_but_unparsable():
    assert merge_eval.classify("x = (\n", "x = 1\n") == "broken"
    assert merge_eval.classify("x = (\n", "x = (\n") == "identical"
    assert merge_eval.classify("x=1\n", "x = 1\n") == "same AST"
    assert merge_eval.classify("x = 2\n", "x = 1\n") == "wrong but clean"
    assert merge_eval.classify(None, "x = 1\n") == "unresolved"


def test_human_edits_outside_gits_conflicts_are_told_apart():
    ours, theirs = version(scale="2.0"), version(scale="3.0")
    # resolving the conflicted line any way keeps the file within git's hunks ...
    assert merge_eval._within_hunks(BASE, ours, theirs, version(scale="2.5"))
    # ... editing a line git merged cleanly does not
    assert not merge_eval._within_hunks(BASE, ours, theirs, version(scale="2.5").replace("return scale", "return 2 * scale"))


def test_a_human_file_that_breaks_a_name_is_told_apart():
    ours = "import os\n\n\ndef sep():\n    return os.sep\n"
    theirs = ours + "\n\ndef one():\n    return 1\n"
    human = theirs.replace("import os\n", "")  # the import dropped while `sep` still uses it
    assert merge_eval._breaks_names(human, ours, theirs)
    assert not merge_eval._breaks_names(theirs, ours, theirs)
    # a problem a side already has is not the human's doing
    assert not merge_eval._breaks_names(human, ours.replace("import os\n", ""), theirs)


def test_wrong_but_clean_records_whether_the_human_edited_outside(history):
    score = merge_eval.evaluate(history, max_merges=50)
    wrong = [f for f in score.files if f.category == "wrong but clean"]
    assert [f.edited_outside for f in wrong] == [False]  # the human dropped theirs' change, in the hunk
    assert [f.human_breaks_names for f in wrong] == [False]
