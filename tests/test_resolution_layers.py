"""The resolution layers inside `stacker build`: codified claims and transforms, recorded
resolutions (record, replay at shifted lines, stale), and the per-step verification."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.gitrepos import Upstream, branch_head, git, write_stack

KERNEL = textwrap.dedent("""\
    class Kernel:
        def __call__(self, q, k, softmax_scale=None):
            return self.launch(
                grid=(1, 1, 1),
                block=(128, 1, 1),
            )
    """)

KEEP_BOTH = textwrap.dedent('''\
    from stacker.resolution import Resolution


    class LaunchKwargsBoth(Resolution):
        id = "launch-kwargs-both"
        title = "Both PRs add launch kwargs"
        kind = "minor"
        prs = (1, 2)
        location = "kernel.py::Kernel.__call__"
        sides = {"#1": "adds paged=True", "#2": "adds dropout=p"}
        resolution = "keep both, #1's first"
        backport = "none needed"

        def claim(self, conflict):
            if "paged" in conflict.hunk.ours and "dropout" in conflict.hunk.theirs:
                return conflict.hunk.ours + conflict.hunk.theirs
            return None
    ''')

STREAM_LAST = textwrap.dedent('''\
    import libcst as cst

    from stacker.resolution import Resolution, Verdict


    def _params(module):
        for node in module.body:
            if isinstance(node, cst.ClassDef) and node.name.value == "Kernel":
                for item in node.body.body:
                    if isinstance(item, cst.FunctionDef) and item.name.value == "__call__":
                        return item
        return None


    class StreamLast(Resolution):
        id = "stream-last"
        title = "stream must be the last parameter"
        kind = "bug"
        found_in = 1
        prs = (1,)
        location = "kernel.py::Kernel.__call__"
        sides = {"#1": "adds stream before later parameters"}
        resolution = "move stream last"
        backport = "#1"

        def inspect(self, tree):
            module = tree.module("kernel.py")
            fn = _params(module) if module else None
            if fn is None:
                return Verdict.absent("Kernel.__call__ not found")
            names = [p.name.value for p in fn.params.params]
            if "stream" not in names:
                return Verdict.absent("no stream parameter")
            if names[-1] == "stream":
                return Verdict.satisfied("stream is already last")
            return Verdict.needed(f"stream is parameter {names.index('stream') + 1} of {len(names)}")

        def rewrite(self, tree):
            module = tree.module("kernel.py")
            fn = _params(module)
            params = list(fn.params.params)
            stream = next(p for p in params if p.name.value == "stream")
            rest = [p for p in params if p is not stream]
            ordered = [p.with_changes(comma=cst.MaybeSentinel.DEFAULT) for p in rest + [stream]]
            new_fn = fn.with_changes(params=fn.params.with_changes(params=ordered))
            tree.write("kernel.py", module.deep_replace(fn, new_fn))
    ''')


def _stack_dir(tmp_path: Path, upstream: Upstream, resolutions: dict[str, str], name: str = "s") -> Path:
    stack = write_stack(tmp_path / name, upstream.path, [{"number": 1}, {"number": 2}])
    directory = tmp_path / name / "resolutions"
    directory.mkdir(exist_ok=True)
    for file, text in resolutions.items():
        (directory / file).write_text(text)
    return stack


def _kwarg_conflict(upstream: Upstream) -> str:
    base = upstream.commit({"kernel.py": KERNEL}, "initial")
    upstream.pr(1, {"kernel.py": KERNEL.replace("block=(128, 1, 1),\n", "block=(128, 1, 1),\n            paged=True,\n")},
                "paged", base)
    upstream.pr(2, {"kernel.py": KERNEL.replace("block=(128, 1, 1),\n", "block=(128, 1, 1),\n            dropout=p,\n")},
                "dropout", base)
    return base


def test_codified_claim_resolves_and_is_logged(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    _kwarg_conflict(upstream)
    stack = _stack_dir(tmp_path, upstream, {"launch.py": KEEP_BOTH})
    code, out, err = run_cli("build", "--stack", str(stack))
    assert code == 0, out + err
    repo = tmp_path / "s" / ".stacker" / "repo.git"
    merged = git(repo, "show", "refs/heads/bundle/test-bundle:kernel.py")
    assert merged.index("paged=True") < merged.index("dropout=p")
    assert "Stacker-Resolution: launch-kwargs-both" in git(repo, "log", "-1", "--format=%B", "refs/heads/bundle/test-bundle")
    md = (tmp_path / "s" / ".stacker" / "BUNDLE.md").read_text()
    assert "### [MINOR] Both PRs add launch kwargs" in md
    assert "**applied** in step #2" in md


def test_transform_applied_then_already_satisfied(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = upstream.commit({"kernel.py": KERNEL}, "initial")
    upstream.pr(1, {"kernel.py": KERNEL.replace("softmax_scale=None", "stream=None, softmax_scale=None")},
                "stream", base)
    upstream.pr(2, {"other.py": "x = 1\n"}, "other", base)
    stack = _stack_dir(tmp_path, upstream, {"stream.py": STREAM_LAST})
    code, out, err = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0, err
    report = json.loads(out)
    merged = git(tmp_path / "s" / ".stacker" / "repo.git", "show", "refs/heads/bundle/test-bundle:kernel.py")
    assert "def __call__(self, q, k, softmax_scale=None, stream=None):" in merged
    status = {r["id"]: r for r in report["resolutions"]}["stream-last"]
    assert status["status"] == "applied" and status["step"] == 1
    # step 2 saw the fix in place: the transform is idempotent
    assert report["steps"][1]["transforms"][0]["status"] == "already satisfied"

    # the PR author fixes it upstream: the resolution reports it can be retired
    upstream.pr(1, {"kernel.py": KERNEL.replace("softmax_scale=None", "softmax_scale=None, stream=None")},
                "stream, fixed", base)
    code, out, _ = run_cli("build", "--stack", str(stack), "--json")
    status = {r["id"]: r for r in json.loads(out)["resolutions"]}["stream-last"]
    assert status["status"] == "already satisfied"
    assert "resolution `stream-last`" in (tmp_path / "s" / ".stacker" / "BUNDLE.md").read_text().split("## Can be retired")[1]


def test_transform_not_applicable_when_code_absent(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = upstream.commit({"kernel.py": "x = 1\n"}, "initial")
    upstream.pr(1, {"a.py": "y = 1\n"}, "one", base)
    upstream.pr(2, {"b.py": "z = 1\n"}, "two", base)
    stack = _stack_dir(tmp_path, upstream, {"stream.py": STREAM_LAST})
    code, out, _ = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0
    status = {r["id"]: r for r in json.loads(out)["resolutions"]}["stream-last"]
    assert status["status"] == "not applicable" and "not found" in status["reason"]


def test_recorded_resolution_replays_at_shifted_lines_and_goes_stale(tmp_path: Path, upstream: Upstream,
                                                                      run_cli) -> None:
    # both PRs change the same argument to different values: a decision no generic layer makes
    base = upstream.commit({"kernel.py": KERNEL}, "initial")
    upstream.pr(1, {"kernel.py": KERNEL.replace("block=(128, 1, 1)", "block=(256, 1, 1)")}, "bigger block", base)
    upstream.pr(2, {"kernel.py": KERNEL.replace("block=(128, 1, 1)", "block=(64, 1, 1)")}, "smaller block", base)
    stack = _stack_dir(tmp_path, upstream, {})
    code, out, _ = run_cli("build", "--stack", str(stack))
    assert code == 1
    worktree = tmp_path / "s" / ".stacker" / "conflict" / "kernel.py"
    text = worktree.read_text()
    start, end = text.index("<<<<<<<"), text.index(">>>>>>>")
    end = text.index("\n", end) + 1
    worktree.write_text(text[:start] + "            block=(192, 1, 1),\n" + text[end:])
    code, out, err = run_cli("resolve", "--stack", str(stack))
    assert code == 0, out + err
    recorded = list((tmp_path / "s" / "resolutions" / "recorded").glob("*.json"))
    assert len(recorded) == 1
    assert json.loads(recorded[0].read_text())["qualname"] == "Kernel.__call__"
    head = branch_head(tmp_path / "s" / ".stacker")
    merged = git(tmp_path / "s" / ".stacker" / "repo.git", "show", f"{head}:kernel.py")
    assert "            block=(192, 1, 1),\n" in merged

    # upstream inserts lines above: the same conflict recurs lower in the file and replays
    upstream.commit({"kernel.py": "import math\n\n\n" + KERNEL}, "imports")
    code, out, err = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0, out + err
    resolved = json.loads(out)["steps"][1]["resolved"]
    assert [r["layer"] for r in resolved] == ["recorded"]

    # #2 changes its mind: the recording matches nothing and is reported stale
    upstream.pr(2, {"kernel.py": KERNEL.replace("grid=(1, 1, 1)", "grid=(2, 1, 1)")}, "grid", base)
    code, out, _ = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0
    assert len(json.loads(out)["stale_recordings"]) == 1
    assert "stale, matched no conflict" in (tmp_path / "s" / ".stacker" / "BUNDLE.md").read_text()


def test_verification_catches_a_clean_merge_that_breaks_a_name(tmp_path: Path, upstream: Upstream,
                                                                 run_cli) -> None:
    module = "def scale(x):\n    return x * 2\n\n\ndef a(x):\n    return scale(x)\n\n\n\n\n\ndef b(x):\n    return x\n"
    base = upstream.commit({"mod.py": module}, "initial")
    upstream.pr(1, {"mod.py": module.replace("def scale", "def apply_scale").replace("return scale(x)",
                                                                                      "return apply_scale(x)")},
                "rename scale", base)
    upstream.pr(2, {"mod.py": module.replace("def b(x):\n    return x", "def b(x):\n    return scale(x) + 1")},
                "use scale", base)
    stack = _stack_dir(tmp_path, upstream, {})
    code, out, _ = run_cli("build", "--stack", str(stack))
    assert code == 1
    assert "undefined name 'scale'" in out
    assert branch_head(tmp_path / "s" / ".stacker") is None
    assert "Verification failed in step #2" in (tmp_path / "s" / ".stacker" / "BUNDLE.md").read_text()


SUPERSEDED = textwrap.dedent('''\
    from stacker.resolution import Resolution


    class FixedUpstream(Resolution):
        id = "fixed-upstream"
        title = "upstream fixed the arch override differently"
        kind = "conflict"
        prs = (2,)
        location = "kernel.py::Kernel"
        sides = {"main": "sets arch in __init__", "#2": "class attribute"}
        resolution = "do not apply #2"
        backport = "close #2"

        def supersedes(self, pr, tree):
            text = tree.text("kernel.py") or ""
            return "main already sets self.arch in __init__" if "self.arch = 80" in text else None
    ''')


def test_superseded_pr_is_skipped_with_the_reason(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = upstream.commit({"kernel.py": KERNEL}, "initial")
    upstream.commit({"kernel.py": KERNEL.replace("class Kernel:\n", "class Kernel:\n    def __init__(self):\n"
                                                 "        self.arch = 80\n\n")}, "arch fix (#9)")
    upstream.pr(1, {"a.py": "x = 1\n"}, "one", base)
    upstream.pr(2, {"kernel.py": KERNEL.replace("class Kernel:\n", "class Kernel:\n    arch = 80\n\n")}, "arch", base)
    stack = _stack_dir(tmp_path, upstream, {"superseded.py": SUPERSEDED})
    code, out, err = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [s["status"] for s in report["steps"]] == ["applied", "superseded"]
    status = {r["id"]: r for r in report["resolutions"]}["fixed-upstream"]
    assert status["status"] == "applied" and "#2 not applied: main already sets self.arch" in status["reason"]
    assert len(git(tmp_path / "s" / ".stacker" / "repo.git", "log", "--format=%s",
                   "refs/heads/bundle/test-bundle").splitlines()) == 3  # base history (2) + #1


def test_assume_present_enables_resolutions_of_prs_in_the_base(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = upstream.commit({"kernel.py": KERNEL.replace("softmax_scale=None", "stream=None, softmax_scale=None")},
                           "stream already stacked into this base")
    upstream.pr(1, {"a.py": "x = 1\n"}, "one", base)
    upstream.pr(2, {"b.py": "y = 1\n"}, "two", base)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 2}])
    (tmp_path / "s" / "resolutions").mkdir()
    (tmp_path / "s" / "resolutions" / "stream.py").write_text(STREAM_LAST)
    code, out, _ = run_cli("build", "--stack", str(stack), "--json")
    assert {r["id"]: r for r in json.loads(out)["resolutions"]}["stream-last"]["status"] == "not applicable"
    code, out, _ = run_cli("build", "--stack", str(stack), "--json", "--assume-present", "1")
    assert code == 0
    assert {r["id"]: r for r in json.loads(out)["resolutions"]}["stream-last"]["status"] == "applied"


def test_verification_catches_a_second_definition_merged_cleanly(tmp_path: Path, upstream: Upstream,
                                                                  run_cli) -> None:
    module = "class K:\n    arch = 80\n\n    def run(self):\n        return 1\n"
    base = upstream.commit({"k.py": module}, "initial")
    upstream.pr(1, {"x.py": "x = 1\n"}, "one", base)
    # the PR adds an __init__ below run(); upstream meanwhile adds its own __init__ at the top
    upstream.pr(2, {"k.py": module + "\n    def __init__(self, b):\n        self.b = b\n"}, "init below", base)
    upstream.commit({"k.py": module.replace("    arch = 80\n", "    def __init__(self):\n        self.arch = 80\n")},
                    "main: set arch in __init__")
    stack = _stack_dir(tmp_path, upstream, {})
    code, out, _ = run_cli("build", "--stack", str(stack))
    assert code == 1
    assert "k.py:8: '__init__' is defined again" in out
    assert branch_head(tmp_path / "s" / ".stacker") is None


NODE_CLAIM = textwrap.dedent('''\
    from stacker.cstedit import find_definition, code
    from stacker.pysource import parse_module
    from stacker.resolution import MergedNode, Resolution


    class WholeCall(Resolution):
        id = "whole-call"
        title = "rebuild Kernel.__call__ from both sides"
        kind = "conflict"
        prs = (1, 2)
        location = "kernel.py::Kernel.__call__"
        sides = {"#1": "paged", "#2": "dropout"}
        resolution = "both kwargs, dropout first"
        backport = "none"

        def claim(self, conflict):
            ours = find_definition(parse_module(conflict.views[1]), "Kernel.__call__")
            text = code(ours).replace("paged=True,", "dropout=p,\\n        paged=True,")
            indented = "".join("    " + line if line.strip() else line for line in text.splitlines(True))
            return MergedNode("Kernel.__call__", indented)
    ''')


def test_claim_of_a_whole_definition_resolves_every_hunk_in_it(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    _kwarg_conflict(upstream)
    stack = _stack_dir(tmp_path, upstream, {"node.py": NODE_CLAIM})
    code, out, err = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0, out + err
    merged = git(tmp_path / "s" / ".stacker" / "repo.git", "show", "refs/heads/bundle/test-bundle:kernel.py")
    assert "            dropout=p,\n            paged=True,\n" in merged
    assert json.loads(out)["steps"][1]["resolved"][0]["layer"] == "codified"
