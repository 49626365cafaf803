"""Comma-separated sequences (arguments, parameters, imported names, collection elements):
merged element-wise and written back in the file's layout (`layout`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import libcst as cst

from stacker.structural import nodes
from stacker.structural.describe import both_contributed, summarize
from stacker.structural.layout import Layout, Unit, read_layout, render
from stacker.structural.nodes import Ctx, Edit, Outcome, merge_node, refuse
from stacker.structural.result import StructuralMerge
from stacker.structural.sequence import Item, Plan, Policy, Refused, merge_sequences

SIDES = ("base", "ours", "theirs")


def _last_part(node: cst.CSTNode) -> cst.CSTNode | None:
    """The child an element ends with, before its comma."""
    if isinstance(node, cst.Param):
        return next(part for part in (node.default, node.annotation, node.name) if part is not None)
    if isinstance(node, cst.ImportAlias):
        return node.asname if node.asname is not None else node.name
    return getattr(node, "value", None)


def element_spans(ctx: Ctx, side: str, elements: Sequence[cst.CSTNode]) -> list[tuple[int, int]] | None:
    """Each element's own text range, without its comma (nested code keeps its indentation, so
    the range comes from positions, not from regenerating the element)."""
    spans = []
    for node in elements:
        start = ctx.span(side, node)[0]
        if isinstance(node, (cst.ParamStar, cst.ParamSlash)):
            end = start + 1
        else:
            last = _last_part(node)
            if last is None:
                return None
            end = ctx.span(side, last)[1]
        spans.append((start, end))
    return spans


def merge_commas(
    ctx: Ctx, kind: str, what: str, lists: dict[str, Sequence[cst.CSTNode]],
    itemize: Callable[[cst.CSTNode, str], Item], policy: Policy,
    check: Callable[[Plan, dict[str, list[Item]]], str | None] | None = None,
    arrange: Callable[[list[tuple[str, Item]]], list[int] | None] | None = None,
    container: dict[str, cst.CSTNode] | None = None,
) -> Outcome:
    """Merge a comma-separated sequence (`lists[side]`) and write it back in the file's layout."""
    spans = {side: element_spans(ctx, side, lists[side]) for side in SIDES}
    if any(s is None for s in spans.values()):
        return refuse(ctx, f"{what}: layout not understood")
    items = {side: [itemize(n, ctx.text(side)[a:b]) for n, (a, b) in zip(lists[side], spans[side], strict=True)]
             for side in SIDES}
    try:
        plan = merge_sequences(items["base"], items["ours"], items["theirs"], policy,
                               same=lambda a, b: nodes.equivalent(a.text, b.text))
    except Refused as refused:
        return refuse(ctx, f"{what}: {refused}")
    reason = check(plan, items) if check else None
    if reason:
        return refuse(ctx, f"{what}: {reason}")
    # Elements known only by position (positional arguments, list and tuple items) that the two
    # sides changed in different places: such a sequence is a record (a version tuple, a shape),
    # and two fields changed at once is a decision, not a merge.
    only = {}
    for side in ("ours", "theirs"):
        inserted = {items[side][j].text for j in plan.inserted[side]}
        moved = {i for i in plan.deleted[side] if items["base"][i].text in inserted}
        only[side] = {i for i in [*plan.changed[side], *moved] if items["base"][i].key is None}
    if only["ours"] - only["theirs"] and only["theirs"] - only["ours"]:
        return refuse(ctx, f"{what}: both sides changed elements known only by position")
    if all(stretch.anchor for stretch in plan.stretches):
        return _merge_in_place(ctx, kind, what, lists, spans, items, plan)
    layouts = {side: read_layout(ctx.text(side), spans[side]) for side in SIDES}
    ours, theirs = layouts["ours"], layouts["theirs"]
    if ours is None or theirs is None or "empty" in (ours.kind, theirs.kind) or ours.kind != theirs.kind:
        return refuse(ctx, f"{what}: the two sides lay it out differently")
    # The trailing comma follows the side that changed it.
    base_comma = layouts["base"].trailing_comma if layouts["base"] is not None else ours.trailing_comma
    layout = theirs if ours.trailing_comma != theirs.trailing_comma and ours.trailing_comma == base_comma else ours
    picks = plan.picks
    if not picks:
        return refuse(ctx, f"{what}: both sides' changes leave it empty")

    out = Outcome()
    units: list[tuple[Unit, bool]] = []
    chosen: list[tuple[str, Item]] = []
    for pick in picks:
        unit = layouts[pick.side].units[pick.index]
        if pick.both:
            b, o, t = pick.both
            sub = merge_node(ctx, lists["base"][b], lists["ours"][o], lists["theirs"][t])
            if not sub.ok:
                return refuse(ctx, f"{what}: both sides changed {items['base'][b].name!r} differently")
            unit = dataclasses.replace(unit, bare=merged_text_bare(ctx, lists["ours"][o], spans["ours"][o], sub))
            out.merges.extend(sub.merges)
        units.append((unit, layouts[pick.side].kind == layout.kind))
        chosen.append((pick.side, items[pick.side][pick.index]))
    if arrange is not None:
        order = arrange(chosen)
        if order is not None:
            units = [units[i] for i in order]
    text = render(layout, units)
    if text is None:
        return refuse(ctx, f"{what}: a multi-line element would have to move")
    for side in ("ours", "theirs"):
        if ctx.text(side)[layouts[side].start:layouts[side].end] != text:
            out.edits[side].append(Edit(layouts[side].start, layouts[side].end, text))
    if both_contributed(plan):
        before = tuple(_container_text(ctx, side, container, lists) for side in SIDES)
        after = _replace_in(ctx, container, layouts["ours"], text)
        summary = f"{what}: {summarize(plan, items)}{_positional_caution(plan, items)}"
        out.merges.append(StructuralMerge(ctx.qualname, kind, summary, before, after))
    return out


def _positional_caution(plan: Plan, items: dict[str, list[Item]]) -> str:
    """Elements known only by position added by one side: they are right for that side's callee
    (the parameters it added there); the log says to check the merged callee agrees."""
    added = [side for side in ("ours", "theirs") if any(items[side][j].key is None for j in plan.inserted[side])]
    if not added:
        return ""
    return (f" (CHECK: {added[0]} added elements by position; they must still line up with the callee's "
            "parameters as merged)")


def _merge_in_place(ctx: Ctx, kind: str, what: str, lists, spans, items, plan: Plan) -> Outcome:
    """Nothing inserted or deleted: each element is merged where it stands, separators untouched."""
    out = Outcome()
    for stretch in plan.stretches:
        pick = stretch.picks[0]
        if pick.both:
            b, o, t = pick.both
            sub = merge_node(ctx, lists["base"][b], lists["ours"][o], lists["theirs"][t])
            if not sub.ok:
                return refuse(ctx, f"{what}: both sides changed {items['base'][b].name!r} differently")
            out.absorb(sub)
            continue
        loser = "theirs" if pick.side == "ours" else "ours"
        start, end = spans[loser][getattr(stretch, loser).start]
        winner_text = items[pick.side][pick.index].text
        if ctx.text(loser)[start:end] != winner_text:
            out.edits[loser].append(Edit(start, end, winner_text))
    if both_contributed(plan):
        out.merges.append(StructuralMerge(ctx.qualname, kind, f"{what}: {summarize(plan, items)}",
                                          tuple(", ".join(i.text for i in items[s]) for s in SIDES),
                                          ", ".join(items[p.side][p.index].text for p in plan.picks)))
    return out


def merged_text_bare(ctx: Ctx, node: cst.CSTNode, span: tuple[int, int], sub: Outcome) -> str:
    inside = [e for e in sub.edits["ours"] if span[0] <= e.start and e.end <= span[1]]
    return nodes.apply_edits(ctx.text("ours")[span[0]:span[1]], span[0], inside)


def _container_text(ctx: Ctx, side: str, container, lists) -> str:
    if container is not None:
        return ctx.code(side, container[side])
    return ", ".join(ctx.code(side, n) for n in lists[side])


def _replace_in(ctx: Ctx, container, layout: Layout, text: str) -> str:
    if container is None:
        return text
    start, end = ctx.span("ours", container["ours"])
    whole = ctx.text("ours")[start:end]
    return whole[:layout.start - start] + text + whole[layout.end - start:]


def positional_layout(group: Callable[[Item], bool]) -> Callable[[Plan, dict[str, list[Item]]], str | None]:
    """Refuse when both sides moved positional elements (inserted, deleted or renamed them)."""

    def check(plan: Plan, items: dict[str, list[Item]]) -> str | None:
        moved = {}
        for side in ("ours", "theirs"):
            moved[side] = any(group(items[side][j]) for j in plan.inserted[side]) or any(
                group(items["base"][i]) for i in plan.deleted[side])
        if moved["ours"] and moved["theirs"]:
            lists = {side: [i.text for i in items[side] if group(i)] for side in ("ours", "theirs")}
            if lists["ours"] != lists["theirs"]:
                return ("both sides changed the positional ones; positions would shift under one side's "
                        "callers")
        return None

    return check


