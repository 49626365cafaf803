"""The structural merge of one Python file: git's line merge, then node-wise merges of what is left.

`merge_python` is the whole thing for three texts; `structural_pass` is the part a merge chain
runs on a `MergedText` whose conflicts earlier layers could not resolve. Both leave a conflict as
it was unless the merge is sure, and both check their work: every region's result must compile
where its original did, and a result without conflicts must compile as a whole; otherwise the
conflicts stay. Nothing here raises on odd input: a side that does not parse, a non-UTF-8 byte,
a syntax from a newer Python all mean "git's line merge, unchanged".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stacker.linemerge import MergedText, line_merge, remerge, resolve_trivial
from stacker.pysource import parse_ast
from stacker.structural import kinds  # noqa: F401  (registers the node shapes)
from stacker.structural.checks import (
    compiles,
    definitions,
    guard_clean,
    misplaced_definitions,
    new_name_problems,
    region_compiles,
    region_definitions,
    split_imports,
)
from stacker.structural.nodes import Ctx, Outcome, apply_edits, merge_node
from stacker.structural.regions import SIDES, Frame, Region, candidates, materialize
from stacker.structural.result import Refusal, StructuralMerge, StructuralResult


@dataclass
class StructuralPass:
    """The structural merge's answer for one file: new views, and what was merged or refused."""

    views: tuple[str, str, str]
    merged: MergedText
    merges: list[StructuralMerge] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.merges)


def merge_python(base: str, ours: str, theirs: str, path: str = "<file>", *,
                 stack_order: bool = True) -> StructuralResult:
    """git's line merge of three versions of a Python file, then the structural merge.

    `stack_order`: where both sides inserted at one place and any order is correct (keyword
    arguments, new methods), keep both with ours first; False leaves such conflicts to a human
    unless the file's own sort order decides (imports).
    """
    merged, _ = resolve_trivial(line_merge(base, ours, theirs))
    try:
        if merged.is_clean:
            guarded, refusal = guard_clean(merged, base, ours, theirs, path)
            return StructuralResult(guarded, refusals=[refusal] if refusal else [])
        if any(parse_ast(text) is None for text in (base, ours, theirs)):
            return StructuralResult(merged, refusals=[Refusal("module", "a side does not parse as Python: left to git")])
        result = structural_pass(merged, path, originals=(base, ours, theirs), stack_order=stack_order)
    except RecursionError:  # see `filemerge.merge_file`
        return StructuralResult(merged, refusals=[Refusal("module", "nested too deeply to analyse: left to git")])
    return StructuralResult(result.merged, result.merges, result.refusals)


def structural_pass(merged: MergedText, path: str = "<file>",
                    originals: tuple[str, str, str] | None = None, stack_order: bool = True) -> StructuralPass:
    """Resolve what it safely can of `merged`'s conflicts; the rest stays as it was.

    `originals`, the three versions the merge started from, when the caller has them, make the
    checks stricter: a region is merged only inside definitions that exist in all three (git's
    line alignment can pair one function's lines with a look-alike's, and the views then show
    a function the base never had), and a clean result is compared with them rather than with
    the views (in which git's clean merge may already have combined the sides into something
    neither wrote).
    """
    views = merged.views()
    unchanged = StructuralPass(views, merged)
    if merged.is_clean:
        return unchanged
    named = dict(zip(SIDES, views, strict=True))
    if any(_lone_carriage_return(text) for text in views):
        unchanged.refusals.append(Refusal("module", "old Mac line endings: left to git"))
        return unchanged
    # Our view gives the statement structure (their view where ours has none around a conflict,
    # e.g. when ours deleted it); the base view mixes both sides' clean changes with the base's
    # conflict sections and need not parse. Each region is parsed in all three views before
    # anything is merged in it.
    frame = Frame(merged, named)
    structure = {}
    for side in ("ours", "theirs"):
        module = parse_ast(named[side])
        if module is not None:
            structure[side] = (module, named[side].split("\n"), dict(merged.conflict_spans(side)))
    if not structure:
        unchanged.refusals.append(Refusal("module", "neither version parses as Python: left to git"))
        return unchanged

    regions: list[Region] = []
    refusals: list[Refusal] = []
    for index, _ in merged.conflict_spans("ours"):
        if any(r.start <= (index, 0) and r.end >= (index + 1, 0) for r in regions):
            continue
        found = False
        for side, (module, lines, spans) in structure.items():
            start, end = spans[index]
            for candidate in candidates(module, lines, start, end, side):
                region = materialize(frame, index, candidate)
                if region is None:
                    continue
                if any(_overlap(region, r) and not _contains(region, r) for r in regions):
                    continue
                regions = [r for r in regions if not _contains(region, r)] + [region]
                found = True
                break
            if found:
                break
        if not found:
            line = dict(merged.conflict_spans("ours"))[index][0] + 1
            refusals.append(Refusal("module", f"conflict at line {line}: no enclosing statement "
                                              "parses in all three versions"))

    if originals is not None:
        known = [definitions(text) for text in originals]
        for region in list(regions):
            missing = [name for name in region_definitions(region) if not all(name in k for k in known)]
            if missing:
                regions.remove(region)
                refusals.append(Refusal(region.candidate.qualname, f"`{missing[0]}` is not in all three versions: "
                                        "git paired look-alike lines; left to git"))

    texts = {"ours": named["ours"], "theirs": named["theirs"]}
    merges: list[StructuralMerge] = []
    for region in sorted(regions, key=lambda r: r.start, reverse=True):  # later offsets first
        outcome = _merge_region(region, stack_order, _outside(region, named))
        refusals.extend(outcome.refusals)
        if not any(outcome.edits.values()):
            continue
        updated = _apply(region, outcome, texts)
        if updated is None:
            refusals.append(Refusal(region.candidate.qualname, "the merged code did not compile: left to git"))
            continue
        texts = updated
        merges.extend(outcome.merges or [_adjacent_changes(region, outcome)])

    if not merges:
        unchanged.refusals = refusals
        return unchanged
    new_views = (named["base"], texts["ours"], texts["theirs"])
    remerged, _ = resolve_trivial(remerge(*new_views))
    # Each region was compiled where it runs; a clean result is compiled as a whole as well, and
    # must not use a name that neither side left undefined (an import one side deleted while
    # the other side's new code still uses it).
    problem = None
    if len(remerged.conflicts) > len(merged.conflicts):
        problem = "the result has more conflicts"
    elif remerged.is_clean and not compiles(remerged.view("ours"), path):
        problem = "the result does not compile"
    elif originals is not None:
        unresolved = {line + 1 for _, (start, end) in remerged.conflict_spans("ours") for line in range(start, end + 1)}
        problem = misplaced_definitions(remerged.view("ours"), *originals, unresolved=unresolved)
    if problem is None and remerged.is_clean:
        sides = originals if originals is not None else views
        problem = split_imports(remerged.view("ours"), *sides)
    if problem is None:
        problem = new_name_problems(dict(zip(SIDES, originals, strict=True)) if originals else named, named, texts, remerged)
    if problem:
        unchanged.refusals = refusals + [Refusal("module", f"{problem}: left to git")]
        return unchanged
    merges.reverse()  # file order
    return StructuralPass(new_views, remerged, merges, refusals)


def _outside(region: Region, views: dict[str, str]):
    """Whether some code occurs in our or their view outside the region."""
    spans = {side: (region.offsets[side], region.offsets[side] + len(region.snippets[side].region))
             for side in ("ours", "theirs")}

    def elsewhere(code: str) -> bool:
        for side, (start, end) in spans.items():
            text = views[side]
            if code in text[:start] or code in text[end:]:
                return True
        return False

    return elsewhere


def _merge_region(region: Region, stack_order: bool = True, elsewhere=None) -> Outcome:
    candidate = region.candidate
    ctx = Ctx(snippets=region.snippets, qualname=candidate.qualname, scope=candidate.scope,
              closure=candidate.closure, stack_order=stack_order,
              elsewhere=elsewhere or (lambda code: False))
    statements = {side: region.snippets[side].statements for side in SIDES}
    try:
        if candidate.kind == "statement":
            return merge_node(ctx, *(statements[side][0] for side in SIDES))
        empty_at = {side: len(region.snippets[side].prefix) for side in SIDES}
        return kinds.merge_statements(ctx, statements, empty_at=empty_at)
    except RecursionError:
        return Outcome(ok=False, refusals=[Refusal(candidate.qualname, "too deeply nested")])


def _adjacent_changes(region: Region, outcome: Outcome) -> StructuralMerge:
    """The record for a region where each side changed a different part of one node (git saw
    them as one conflict because they touch) and no sequence merge said more."""
    before = tuple(region.snippets[side].region for side in SIDES)
    snippet = region.snippets["ours"]
    after = apply_edits(snippet.text, 0, outcome.edits["ours"])[len(snippet.prefix):]
    if snippet.suffix:
        after = after[: len(after) - len(snippet.suffix)]
    return StructuralMerge(region.candidate.qualname, "adjacent-changes",
                           "each side changed a different part (git saw one conflict)", before, after)


def _apply(region: Region, outcome: Outcome, texts: dict[str, str]) -> dict[str, str] | None:
    """The views with the region's edits, if the region still compiles in both."""
    updated = {}
    for side in ("ours", "theirs"):
        snippet = region.snippets[side]
        prefix = len(snippet.prefix)
        try:
            new_text = apply_edits(snippet.text, 0, outcome.edits[side])
        except ValueError:
            return None
        if not new_text.endswith(snippet.suffix) or not new_text.startswith(snippet.prefix):
            return None  # an edit reached into the stub: never
        new_region = new_text[prefix:len(new_text) - len(snippet.suffix)]
        old_region = snippet.region
        if not region_compiles(new_region, region) and region_compiles(old_region, region):
            return None
        start = region.offsets[side]
        text = texts[side]
        if text[start:start + len(old_region)] != old_region:
            return None  # the view moved under us: never guess
        updated[side] = text[:start] + new_region + text[start + len(old_region):]
    return updated


def _lone_carriage_return(text: str) -> bool:
    return "\r" in text.replace("\r\n", "")


def _overlap(a: Region, b: Region) -> bool:
    return a.start < b.end and b.start < a.end


def _contains(a: Region, b: Region) -> bool:
    return a.start <= b.start and b.end <= a.end
