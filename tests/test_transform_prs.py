"""Transforms see which PRs are in the bundle (a clause per PR), and the log lists every step in which a
resolution acted, not just the first."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.gitrepos import Upstream, git, write_stack

PER_PR_FLAGS = textwrap.dedent('''\
    from stacker.resolution import Resolution, Verdict


    class FlagPerPr(Resolution):
        id = "flag-per-pr"
        title = "flags.py lists one flag per stacked PR"
        kind = "minor"
        prs = (1,)
        location = "flags.py"
        sides = {"#1": "adds flags.py", "#2": "needs its flag"}
        resolution = "one line per PR present"
        backport = "none"

        def _wanted(self, tree):
            return "".join(f"pr{n} = True\\n" for n in sorted(tree.prs))

        def inspect(self, tree):
            text = tree.text("flags.py")
            if text is None:
                return Verdict.absent("no flags.py")
            if text == self._wanted(tree):
                return Verdict.satisfied("flags for " + ", ".join(f"#{n}" for n in sorted(tree.prs)))
            return Verdict.needed("flags for " + ", ".join(f"#{n}" for n in sorted(tree.prs)))

        def rewrite(self, tree):
            tree.write("flags.py", self._wanted(tree))
    ''')


def test_transform_clauses_follow_the_prs_present(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = upstream.commit({"main.py": "x = 1\n"}, "initial")
    upstream.pr(1, {"flags.py": "\n"}, "flags", base)
    upstream.pr(2, {"two.py": "y = 2\n"}, "two", base)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 1}, {"number": 2}])
    (tmp_path / "s" / "resolutions").mkdir()
    (tmp_path / "s" / "resolutions" / "flags.py").write_text(PER_PR_FLAGS)
    code, out, err = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0, out + err
    merged = git(tmp_path / "s" / ".stacker" / "repo.git", "show", "refs/heads/bundle/test-bundle:flags.py")
    assert merged.strip() == "pr1 = True\npr2 = True"
    report = json.loads(out)
    assert [t["reason"] for s in report["steps"] for t in s["transforms"]] == ["flags for #1", "flags for #1, #2"]
    status = {r["id"]: r for r in report["resolutions"]}["flag-per-pr"]
    assert status["applied"] == [{"step": 1, "reason": "flags for #1"}, {"step": 2, "reason": "flags for #1, #2"}]
    md = (tmp_path / "s" / ".stacker" / "BUNDLE.md").read_text()
    assert "- **Applied in each step:**\n  - step #1: flags for #1\n  - step #2: flags for #1, #2\n" in md
