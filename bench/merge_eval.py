"""Score the merge chain on real merge history: how often does it resolve what git leaves conflicted
exactly as the humans did, and how often is it clean but wrong?

    python bench/merge_eval.py REPO [--max-merges N] [--json OUT] [--dump DIR]

For each of the last N merge commits of REPO (two parents, one merge base), `git merge-tree
--write-tree` says which files git's merge leaves conflicted. Every conflicted `.py` file with all
three versions is run through the same chain as `stacker merge-file` (git's line merge, then the
generic layers: equivalent code, structural, neighbouring edits, moved and wrapped blocks, one
side's edit containing the other's) on
(merge base, parent 1, parent 2), and the result is compared with the file in
the merge commit:

- identical: the same text;
- same AST: parses to the same `ast.dump` (formatting or comments differ);
- unresolved: conflict markers left (a human is asked, as with git alone);
- wrong but clean: no markers, parses, differs from the human's result;
- broken: no markers but does not parse (while the human's result does): must never happen.

A benchmark, not a test: it reads a repository and prints a rich table.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import statistics
import subprocess
import sys
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from stacker import flakes
from stacker.chain import generic_layers
from stacker.linemerge import Clean, line_merge
from stacker.mergedriver import merge_versions
from stacker.structural import merge_python

HUMAN_BREAKS_NAMES = "wrong but clean, the human's file has a name undefined or defined twice that neither side has"
CATEGORIES = ("identical", "same AST", "unresolved", "wrong but clean", "broken")


@dataclass
class FileResult:
    merge: str
    path: str
    category: str
    seconds: float
    resolved_by: str  # the layers that acted, e.g. "adjacent+structural"; "git" (the line merge alone); "" unresolved
    conflicts_before: int
    conflicts_after: int
    merges: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # why the structural layer left conflicts
    # Where both sides inserted at one place, the merge puts ours first; merging with the sides
    # swapped shows whether it decided an order, and which order the human chose.
    order: str = ""  # "" (no order decided), "ours first", "theirs first", "other"
    # The human's file differs from git's line merge outside git's conflict hunks as well: the
    # human edited beyond merging (no merge of the three versions can produce that file).
    edited_outside: bool = False
    # The human's file uses a name undefined, or defines one twice, where neither side does
    # (pyflakes): the committed merge is itself broken there, and the merge's text cannot match it.
    human_breaks_names: bool = False


@dataclass
class RepoScore:
    repo: str
    head: str
    merges_scanned: int = 0
    merges_conflicted: int = 0  # merges git leaves with at least one conflicted .py file
    skipped: Counter = field(default_factory=Counter)
    files: list[FileResult] = field(default_factory=list)

    def counts(self) -> Counter:
        return Counter(f.category for f in self.files)


class Blobs:
    """`git cat-file --batch` over one repository: blob texts by name (`oid` or `rev:path`)."""

    def __init__(self, repo: Path) -> None:
        self.process = subprocess.Popen(["git", "-C", str(repo), "cat-file", "--batch"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def read(self, name: str) -> str | None:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(name.encode() + b"\n")
        self.process.stdin.flush()
        header = self.process.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            return None
        data = self.process.stdout.read(int(header[2]))
        self.process.stdout.read(1)
        return data.decode("utf-8", "surrogateescape")

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait()


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=check)


def conflicted_files(repo: Path, first: str, second: str) -> dict[str, dict[int, str]] | None:
    """Path -> {stage: blob} for every file `git merge-tree` leaves conflicted; None on failure."""
    result = git(repo, "merge-tree", "--write-tree", "-z", "--no-messages", first, second, check=False)
    if result.returncode not in (0, 1):
        return None
    if result.returncode == 0:
        return {}
    entries = result.stdout.split(b"\0")[1:]
    files: dict[str, dict[int, str]] = {}
    for entry in entries:
        if not entry:
            break
        meta, _, path = entry.partition(b"\t")
        _mode, oid, stage = meta.split()
        files.setdefault(path.decode("utf-8", "surrogateescape"), {})[int(stage)] = oid.decode()
    return files


def classify(result_text: str | None, human: str) -> str:
    """The category of a merge result against the human's, `None` meaning conflicts were left."""
    if result_text is None:
        return "unresolved"
    if result_text == human:
        return "identical"
    ours, theirs = _dump(result_text), _dump(human)
    if ours is None:
        return "broken" if theirs is not None else "wrong but clean"
    return "same AST" if ours == theirs else "wrong but clean"


def _dump(text: str) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.dump(ast.parse(text))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def evaluate(repo: Path, max_merges: int, dump: Path | None = None, progress: bool = False,
             stack_order: bool = False) -> RepoScore:
    head = git(repo, "rev-parse", "HEAD").stdout.decode().strip()
    score = RepoScore(repo=str(repo), head=head)
    merges = git(repo, "rev-list", "--merges", f"--max-count={max_merges}", "HEAD").stdout.decode().split()
    blobs = Blobs(repo)
    try:
        for n, merge in enumerate(merges):
            if progress and n % 100 == 0:
                print(f"  {repo.name}: {n}/{len(merges)} merges, {len(score.files)} files", file=sys.stderr)
            score.merges_scanned += 1
            parents = git(repo, "rev-list", "--parents", "-n1", merge).stdout.decode().split()[1:]
            if len(parents) != 2:
                score.skipped["octopus merge"] += 1
                continue
            bases = git(repo, "merge-base", "--all", *parents, check=False).stdout.decode().split()
            if len(bases) != 1:
                score.skipped["several merge bases" if bases else "no merge base"] += 1
                continue
            files = conflicted_files(repo, *parents)
            if files is None:
                score.skipped["merge-tree failed"] += 1
                continue
            python = {p: stages for p, stages in files.items() if p.endswith(".py")}
            if not python:
                continue
            score.merges_conflicted += 1
            for path, stages in sorted(python.items()):
                if set(stages) != {1, 2, 3}:
                    score.skipped["file: added, deleted or renamed on one side"] += 1
                    continue
                texts = [blobs.read(stages[s]) for s in (1, 2, 3)]
                human = blobs.read(f"{merge}:{path}")
                if any(t is None for t in texts):
                    score.skipped["file: blob missing from the snapshot"] += 1
                    continue
                if human is None:
                    score.skipped["file: not in the merge commit (deleted or moved)"] += 1
                    continue
                if _dump(human) is None:  # Python 2, or a broken merge: nothing to compare with
                    score.skipped["file: the merge commit's version does not parse (Python 3.11)"] += 1
                    continue
                base, ours, theirs = texts
                start = time.perf_counter()
                merged = merge_versions(base, ours, theirs, path, stack_order=stack_order).merge  # as the driver
                seconds = time.perf_counter() - start
                text = merged.text if merged.is_clean else None
                category = classify(text, human)
                edited_outside = category == "wrong but clean" and not _within_hunks(base, ours, theirs, human)
                human_breaks_names = category == "wrong but clean" and _breaks_names(human, ours, theirs)
                structural = [a for a in merged.actions if a.layer == "structural"]
                layers = sorted({a.layer for a in merged.actions} - {"git"})
                resolved_by = ("+".join(layers) or "git") if merged.is_clean else ""
                refusals, order = [], ""
                if not merged.is_clean:  # diagnostics, not timed
                    refusals = [f"{r.node}: {r.reason}"
                                for r in merge_python(base, ours, theirs, path, stack_order=stack_order).refusals]
                elif structural and stack_order:
                    order = _order_decided(path, base, ours, theirs, text, human)
                score.files.append(FileResult(
                    merge=merge, path=path, category=category, seconds=seconds, resolved_by=resolved_by,
                    conflicts_before=merged.initial_conflicts, conflicts_after=len(merged.merged.conflicts),
                    merges=[f"{a.layer} {a.location}: {a.detail}" for a in merged.actions if a.layer != "git"],
                    refusals=refusals, order=order, edited_outside=edited_outside,
                    human_breaks_names=human_breaks_names,
                ))
                if dump is not None and category not in ("unresolved", "identical"):
                    _dump_case(dump, repo, merge, path, base, ours, theirs, human, text or "")
    finally:
        blobs.close()
    return score


def _breaks_names(text: str, ours: str, theirs: str) -> bool:
    return bool(flakes.introduced(text, (ours, theirs), (flakes.UNDEFINED, flakes.TWICE_DEFINED)))


def _within_hunks(base: str, ours: str, theirs: str, human: str) -> bool:
    """Whether the human's file is git's line merge with only the conflict hunks filled in."""
    pattern = "".join(re.escape(s.text) if isinstance(s, Clean) else "(?:.*?)"
                      for s in line_merge(base, ours, theirs).segments)
    return re.fullmatch(pattern, human, re.DOTALL) is not None


def _order_decided(path: str, base: str, ours: str, theirs: str, text: str, human: str) -> str:
    swapped = merge_versions(base, theirs, ours, path, stack_order=True).merge
    if not swapped.is_clean or swapped.text == text:
        return ""
    if classify(text, human) in ("identical", "same AST"):
        return "ours first"
    if classify(swapped.text, human) in ("identical", "same AST"):
        return "theirs first"
    return "other"


def _dump_case(dump: Path, repo: Path, merge: str, path: str, *texts: str) -> None:
    folder = dump / repo.name / f"{merge[:10]}-{path.replace('/', '__')}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in zip(("base", "ours", "theirs", "human", "result"), texts, strict=True):
        (folder / f"{name}.py").write_text(text, encoding="utf-8", errors="surrogateescape")


# The layers after git's merge, as the chain runs them (the structural one is given to it).
LAYERS = ("structural", *(layer.name for layer in generic_layers(None)))


def layer_counts(files: list[FileResult]) -> Counter:
    """How many clean results each layer after git's merge took part in (one file may count twice)."""
    counts = Counter({layer: 0 for layer in LAYERS})
    for f in files:
        if f.resolved_by not in ("", "git"):
            counts.update(f.resolved_by.split("+"))
    return counts


def median_p95_ms(seconds: list[float]) -> tuple[float, float] | None:
    """Median and 95th percentile of per-file times, in milliseconds; None without any."""
    if not seconds:
        return None
    values = sorted(seconds)
    return 1000 * statistics.median(values), 1000 * values[min(len(values) - 1, int(0.95 * len(values)))]


def table(score: RepoScore) -> Table:
    counts = score.counts()
    total = len(score.files)
    times = median_p95_ms([f.seconds for f in score.files])
    title = (f"{Path(score.repo).name} @ {score.head[:12]}: {score.merges_scanned} merges scanned, "
             f"{score.merges_conflicted} with .py conflicts, {total} conflicted .py files")
    out = Table(title=title, title_justify="left")
    out.add_column("result")
    out.add_column("files", justify="right")
    out.add_column("%", justify="right")
    for category in CATEGORIES:
        n = counts.get(category, 0)
        out.add_row(category, str(n), f"{100 * n / total:.1f}" if total else "-")
    outside = sum(f.edited_outside for f in score.files)
    out.add_row("(wrong but clean: the human also edited outside git's conflicts)", str(outside), "")
    out.add_row(f"({HUMAN_BREAKS_NAMES})", str(sum(f.human_breaks_names for f in score.files)), "")
    for layer, n in layer_counts(score.files).items():
        out.add_row(f"(resolved with the {layer} layer)", str(n), f"{100 * n / total:.1f}" if total else "-")
    orders = Counter(f.order for f in score.files if f.order)
    if orders:
        out.add_row("(order of both sides' insertions: human put ours / theirs first / other)",
                    f"{orders['ours first']} / {orders['theirs first']} / {orders['other']}", "")
    if times:
        out.add_row("time per file: median / p95", f"{times[0]:.0f} ms", f"{times[1]:.0f} ms")
    for reason, n in sorted(score.skipped.items()):
        out.add_row(f"skipped: {reason}", str(n), "")
    return out


def markdown(scores: list[RepoScore]) -> str:
    """The scores as one GitHub-flavoured markdown table (a column per repository, and the total)."""
    def pct(n: int, total: int) -> str:
        return f"{n} ({100 * n / total:.1f}%)" if total else "0"

    names = [Path(s.repo).name if Path(s.repo).name != "repo" else Path(s.repo).parent.name for s in scores]
    rows = [("repository", names + ["all"]),
            ("commit measured", [f"`{s.head[:12]}`" for s in scores] + [""]),
            ("merges scanned", [str(s.merges_scanned) for s in scores] + [str(sum(s.merges_scanned for s in scores))]),
            ("merges with conflicted .py files", [str(s.merges_conflicted) for s in scores]
             + [str(sum(s.merges_conflicted for s in scores))])]
    totals = Counter()
    for s in scores:
        totals.update(s.counts())
    files = [len(s.files) for s in scores]
    rows.append(("conflicted .py files", [str(n) for n in files] + [str(sum(files))]))
    for category in CATEGORIES:
        rows.append((category, [pct(s.counts().get(category, 0), len(s.files)) for s in scores]
                     + [pct(totals.get(category, 0), sum(files))]))
    outside = [sum(f.edited_outside for f in s.files) for s in scores]
    rows.append(("wrong but clean, the human also edited outside git's conflicts",
                 [str(n) for n in outside] + [str(sum(outside))]))
    broken_names = [sum(f.human_breaks_names for f in s.files) for s in scores]
    rows.append((HUMAN_BREAKS_NAMES, [str(n) for n in broken_names] + [str(sum(broken_names))]))
    ok = [s.counts().get("identical", 0) + s.counts().get("same AST", 0) for s in scores]
    rows.append(("identical + same AST", [pct(n, f) for n, f in zip(ok, files, strict=True)] + [pct(sum(ok), sum(files))]))
    per_repo = [layer_counts(s.files) for s in scores]
    for layer in LAYERS:
        counts = [c[layer] for c in per_repo]
        rows.append((f"resolved with the {layer} layer", [str(n) for n in counts] + [str(sum(counts))]))
    orders = [Counter(f.order for f in s.files if f.order) for s in scores]
    rows.append(("order decided: human put ours / theirs first / other",
                 [f"{o['ours first']} / {o['theirs first']} / {o['other']}" for o in orders]
                 + ["{} / {} / {}".format(*(sum(o[k] for o in orders) for k in ("ours first", "theirs first", "other")))]))
    all_times = [f.seconds for s in scores for f in s.files]

    def times(values: list[float]) -> str:
        ms = median_p95_ms(values)
        return f"{ms[0]:.0f} / {ms[1]:.0f}" if ms else "-"

    rows.append(("time per file, ms: median / p95", [times([f.seconds for f in s.files]) for s in scores]
                 + [times(all_times)]))
    skipped = Counter()
    for s in scores:
        skipped.update(s.skipped)
    for reason in sorted(skipped):
        rows.append((f"skipped: {reason}", [str(s.skipped.get(reason, 0)) for s in scores] + [str(skipped[reason])]))
    lines = ["| " + " | ".join([rows[0][0], *rows[0][1]]) + " |",
             "|" + "---|" * (len(rows[0][1]) + 1)]
    lines += ["| " + " | ".join([label, *cells]) + " |" for label, cells in rows[1:]]
    return "\n".join(lines) + "\n"


def from_json(data: dict) -> RepoScore:
    score = RepoScore(repo=data["repo"], head=data["head"], merges_scanned=data["merges_scanned"],
                      merges_conflicted=data["merges_conflicted"], skipped=Counter(data["skipped"]))
    score.files = [FileResult(**f) for f in data["files"]]
    return score


def to_json(score: RepoScore) -> dict:
    return {
        "repo": score.repo, "head": score.head, "merges_scanned": score.merges_scanned,
        "merges_conflicted": score.merges_conflicted, "skipped": dict(score.skipped),
        "counts": dict(score.counts()), "files": [asdict(f) for f in score.files],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repos", nargs="+", type=Path, help="local git repositories (bare is fine)")
    parser.add_argument("--max-merges", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="write every file's result here")
    parser.add_argument("--dump", type=Path, help="write the inputs and results of non-identical clean merges here")
    parser.add_argument("--markdown", type=Path, help="write the table as markdown here")
    parser.add_argument("--from-json", action="store_true", help="REPOS are --json files of earlier runs: "
                        "print their tables (and --markdown) without merging again")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--stack-order", action="store_true", help="the driver's --stack-order: both sides' "
                        "insertions at one place kept, ours first (by default that choice is left unresolved)")
    args = parser.parse_args(argv)
    console = Console()
    scores = []
    for repo in args.repos:
        if args.from_json:
            scores += [from_json(data) for data in json.loads(repo.read_text())]
            console.print(table(scores[-1]))
            continue
        score = evaluate(repo, args.max_merges, args.dump, args.progress, args.stack_order)
        scores.append(score)
        console.print(table(score))
    if args.markdown:
        args.markdown.write_text(markdown(scores))
    if args.json:
        args.json.write_text(json.dumps([to_json(s) for s in scores], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
