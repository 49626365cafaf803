"""Sequences of whole lines (the statements of a body, a definition's decorators), merged run by
run: a run the merge refuses stays as it was, the others are merged."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import libcst as cst

from stacker.structural import nodes
from stacker.structural.describe import both_contributed, summarize
from stacker.structural.nodes import Ctx, Edit, Outcome, merge_node, refuse
from stacker.structural.result import StructuralMerge
from stacker.structural.sequence import Item, Plan, Policy, Refused, merge_sequences

SIDES = ("base", "ours", "theirs")


def without_leading_lines(text: str) -> str:
    """A statement's text from its first line of code (blank lines and comments above dropped)."""
    lines = text.splitlines(keepends=True)
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("#")):
        lines.pop(0)
    return "".join(lines).strip()


def merge_lines(ctx: Ctx, kind: str, what: str, lists: dict[str, Sequence[cst.CSTNode]],
                itemize: Callable[[cst.CSTNode, str, int], Item], policy: Policy,
                empty_at: dict[str, int] | None = None) -> Outcome:
    """Merge a sequence of whole-line units, run by run: a refused run stays as it was."""
    spans = {side: [ctx.span(side, n) for n in lists[side]] for side in SIDES}
    for side in SIDES:
        for (_, end), (start, _) in zip(spans[side], spans[side][1:], strict=False):
            if end != start:
                return refuse(ctx, f"{what}: layout not understood")
    items = {side: [itemize(n, ctx.text(side)[a:b], k)
                    for k, (n, (a, b)) in enumerate(zip(lists[side], spans[side], strict=True))]
             for side in SIDES}
    try:
        plan = merge_sequences(items["base"], items["ours"], items["theirs"], policy, partial=True,
                               elsewhere=lambda item: bool(item.core) and ctx.elsewhere(item.core),
                               same=lambda a, b: nodes.equivalent(a.text, b.text))
    except Refused as refused:
        return refuse(ctx, f"{what}: {refused}")

    def where(side: str, run: range) -> tuple[int, int]:
        if run:
            return spans[side][run.start][0], spans[side][run.stop - 1][1]
        if run.start > 0:
            at = spans[side][run.start - 1][1]
        elif spans[side]:
            at = spans[side][0][0]
        else:
            at = (empty_at or {}).get(side, -1)
        return at, at

    out = Outcome()
    merged_any = False
    for stretch in plan.stretches:
        if stretch.picks is None:
            out.ok = False
            out.refusals.append(nodes.Refusal(ctx.qualname, f"{what}: {stretch.reason}"))
            continue
        if stretch.anchor and stretch.picks[0].both:
            b, o, t = stretch.picks[0].both
            out.absorb(merge_node(ctx, lists["base"][b], lists["ours"][o], lists["theirs"][t]))
            continue
        text = "".join(items[p.side][p.index].text for p in stretch.picks)
        for pick in stretch.picks[:-1]:
            if not items[pick.side][pick.index].text.endswith("\n"):
                out.ok = False
                out.refusals.append(nodes.Refusal(ctx.qualname, f"{what}: a line without newline would move"))
                break
        else:
            for side, run in (("ours", stretch.ours), ("theirs", stretch.theirs)):
                start, end = where(side, run)
                if start < 0:
                    return refuse(ctx, f"{what}: nowhere to insert")
                if ctx.text(side)[start:end] != text:
                    out.edits[side].append(Edit(start, end, text))
            if not stretch.anchor and stretch.picks is not None:
                merged_any = True
    if merged_any and both_contributed(plan):
        before = tuple(_run_text(ctx, side, plan, spans) for side in SIDES)
        out.merges.append(StructuralMerge(ctx.qualname, kind, f"{what}: {summarize(plan, items)}", before,
                                          _merged_runs(plan, items)))
    return out


def _run_text(ctx: Ctx, side: str, plan: Plan, spans) -> str:
    """The text of the runs that were not plain anchors, for the log's before/after."""
    runs = [getattr(s, side) for s in plan.stretches if not s.anchor or (s.picks and s.picks[0].both)]
    parts = [ctx.text(side)[spans[side][r.start][0]:spans[side][r.stop - 1][1]] for r in runs if r]
    return "".join(parts)


def _merged_runs(plan: Plan, items) -> str:
    return "".join(items[p.side][p.index].text for s in plan.stretches
                   if s.picks is not None and not s.anchor for p in s.picks)


