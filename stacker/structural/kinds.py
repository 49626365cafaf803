"""The sequences the structural merge understands, each with its rule for ordering insertions.

| kind                  | elements known by         | both sides insert at one place          |
|-----------------------|---------------------------|-----------------------------------------|
| call-arguments        | keyword name              | keywords: ours then theirs; positional: refused |
| parameters            | parameter name            | keyword-only: ours then theirs; positional: refused |
| imports               | the name bound            | ours then theirs (kept sorted if all three were) |
| collection-elements   | text (dict: key)          | sets/dicts: ours then theirs; lists/tuples: refused |
| decorators            | text                      | refused (application order matters)     |
| body-statements       | def/class/assigned name   | only if `effects.interference` finds no way they observe each other |
| docstring             | `name:` entry             | ours then theirs, for `name:` entries only |

Positional arguments and parameters get one more rule: if both sides changed *where* positional
elements are (inserted, deleted, renamed), the merge refuses even when the changes are in
different places. A positional parameter inserted by one side shifts every later position, and
the other side's call sites, written against the old positions, would be silently wrong — the
bug class this tool exists to stop. Changing an element in place (a default, a value) is fine.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable, Sequence

import libcst as cst

from stacker.structural import nodes
from stacker.structural.effects import interference
from stacker.structural.layout import Layout, Unit, read_layout, render
from stacker.structural.nodes import Ctx, Edit, Outcome, Shape, merge_node, refuse
from stacker.structural.result import StructuralMerge
from stacker.structural.sequence import Item, Plan, Policy, Refused, Unordered, merge_sequences
from stacker.structural.snippet import code_of

SIDES = ("base", "ours", "theirs")


# -- policies ----------------------------------------------------------------------------------

class _KeywordsAfterPositionals(Policy):
    """Call arguments and parameters: positional insertions by both sides are refused; otherwise
    stack order, with positional elements before keyword ones so the result stays valid."""

    ordered = False

    def __init__(self, what: str) -> None:
        self.what = what

    def order(self, ours: list[Item], theirs: list[Item], before=None, after=None) -> list[tuple[str, int]]:
        if any(i.group == "positional" for i in ours) and any(i.group == "positional" for i in theirs):
            raise Refused(f"both sides added positional {self.what} at the same place: their order "
                          "decides which value each caller's argument binds to")
        if any(i.group == "marker" for i in ours) and any(i.group == "marker" for i in theirs):
            raise Refused(f"both sides added `*`, `/` or `**` {self.what}")
        self.stacked(ours, theirs)  # refuses when stack order is off
        rank = {"positional": 0, "marker": 1, "keyword": 2, "varkw": 3}
        both = [("ours", n, i) for n, i in enumerate(ours)] + [("theirs", n, i) for n, i in enumerate(theirs)]
        return [(side, n) for side, n, _ in sorted(both, key=lambda x: rank.get(x[2].group, 2))]


class _NoSpreads(Unordered):
    """Dict displays: distinct keys in stack order; `**spread` order decides which value wins."""

    def order(self, ours: list[Item], theirs: list[Item], before=None, after=None) -> list[tuple[str, int]]:
        if any(i.key is None for i in [*ours, *theirs]):
            raise Refused("both sides inserted into a dict display next to a `**` spread")
        return self.stacked(ours, theirs)


class _Statements(Policy):
    """Statements inserted by both sides at one place, if neither can observe the other."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    def order(self, ours: list[Item], theirs: list[Item], before=None, after=None) -> list[tuple[str, int]]:
        a = nodes.parse_statements("".join(i.text for i in ours))
        b = nodes.parse_statements("".join(i.text for i in theirs))
        if a is None or b is None:
            raise Refused("inserted statements could not be analysed")
        closure = self.ctx.closure() if self.ctx.scope == "function" else frozenset()
        reason = interference(a, b, self.ctx.scope, closure)
        if reason:
            raise Refused(f"both sides inserted statements here and their order may matter: {reason}")
        return _sorted_imports(ours, theirs, a, b, before, after) or self.stacked(ours, theirs)


_IMPORT_KEYS: tuple[Callable[[str], object], ...] = (
    lambda text: " ".join(text.split()).lower(),  # one import per line, sorted as text
    lambda text: (text.split()[0] == "from", " ".join(text.split()).lower()),  # `import x` first
)


def _sorted_imports(ours: list[Item], theirs: list[Item], a, b, before: Item | None,
                    after: Item | None) -> list[tuple[str, int]] | None:
    """New imports from both sides, interleaved the way the file sorts its imports, if it does.

    Imports at module level are definitions (`effects`), so their order is free; where the
    surrounding imports and each side's new ones follow one sort order, the merge keeps it.
    """
    if not all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in [*a, *b]) or len(a) != len(ours) \
            or len(b) != len(theirs):
        return None
    # Only imports of one section (no blank line between them) say how the file sorts.
    if any(_starts_blank(i.text) for i in [*ours, *theirs]):
        return None
    before = before if before is not None and _is_import(before.text) else None
    after = after if after is not None and _is_import(after.text) and not _starts_blank(after.text) else None
    if before is None and after is None:
        return None
    for key in _IMPORT_KEYS:
        for side in (ours, theirs):
            run = [*(x.text for x in [before] if x is not None), *(x.text for x in side),
                   *(x.text for x in [after] if x is not None)]
            if [key(_code_line(t)) for t in run] != sorted(key(_code_line(t)) for t in run):
                break
        else:
            both = [("ours", n, ours[n]) for n in range(len(ours))] + [("theirs", n, theirs[n]) for n in range(len(theirs))]
            both.sort(key=lambda x: key(_code_line(x[2].text)))
            return [(side, n) for side, n, _ in both]
    return None


def _starts_blank(text: str) -> bool:
    return not text.split("\n", 1)[0].strip()


def _code_line(text: str) -> str:
    """A statement's text without the comment and blank lines above it."""
    lines = [line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return " ".join(lines)


def _is_import(text: str) -> bool:
    words = _code_line(text).split()
    return bool(words) and words[0] in ("import", "from")


class _DocEntries(Unordered):
    def order(self, ours: list[Item], theirs: list[Item], before=None, after=None) -> list[tuple[str, int]]:
        if any(i.key is None for i in [*ours, *theirs]):
            raise Refused("both sides added prose to the same place of a docstring")
        if any(">>>" in i.text for i in [*ours, *theirs]):
            raise Refused("both sides added doctest examples to the same place of a docstring")
        return self.stacked(ours, theirs)


def _policy(ctx: Ctx, policy: Policy) -> Policy:
    policy.stack_order = ctx.stack_order
    return policy


# -- comma-separated sequences -----------------------------------------------------------------

def _last_part(node: cst.CSTNode) -> cst.CSTNode | None:
    """The child an element ends with, before its comma."""
    if isinstance(node, cst.Param):
        return next(part for part in (node.default, node.annotation, node.name) if part is not None)
    if isinstance(node, cst.ImportAlias):
        return node.asname if node.asname is not None else node.name
    return getattr(node, "value", None)


def _spans(ctx: Ctx, side: str, elements: Sequence[cst.CSTNode]) -> list[tuple[int, int]] | None:
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
    spans = {side: _spans(ctx, side, lists[side]) for side in SIDES}
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
    if not any(plan.inserted.values()) and not any(plan.deleted.values()):
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
    if _both_contributed(plan):
        before = tuple(_container_text(ctx, side, container, lists) for side in SIDES)
        after = _replace_in(ctx, container, layouts["ours"], text)
        out.merges.append(StructuralMerge(ctx.qualname, kind, f"{what}: {_summary(plan, items)}", before, after))
    return out


def _merge_in_place(ctx: Ctx, kind: str, what: str, lists, spans, items, plan: Plan) -> Outcome:
    """Nothing inserted or deleted: each element is merged where it stands, separators untouched."""
    out = Outcome()
    for stretch in plan.stretches:
        if not stretch.anchor:
            continue  # both sides wrote the same there
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
    if _both_contributed(plan):
        out.merges.append(StructuralMerge(ctx.qualname, kind, f"{what}: {_summary(plan, items)}",
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


def _both_contributed(plan: Plan) -> bool:
    did = {side: bool(plan.inserted[side] or plan.deleted[side] or plan.changed[side]) for side in ("ours", "theirs")}
    return (did["ours"] and did["theirs"]) or bool(plan.identical)


def _summary(plan: Plan, items: dict[str, list[Item]]) -> str:
    parts = []
    for side in ("ours", "theirs"):
        acts = []
        for verb, indexes, source in (("added", plan.inserted[side], items[side]),
                                      ("changed", plan.changed[side], items["base"]),
                                      ("removed", plan.deleted[side], items["base"])):
            if indexes:
                names = ", ".join(f"`{_short(source[i].name)}`" for i in dict.fromkeys(indexes))
                acts.append(f"{verb} {names}")
        if acts:
            parts.append(f"{side} " + " and ".join(acts))
    if plan.identical:
        parts.append("both made " + ", ".join(f"`{_short(items['ours'][i].name)}`" for i in plan.identical))
    return "; ".join(parts)


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _positional_layout(group: Callable[[Item], bool]) -> Callable[[Plan, dict[str, list[Item]]], str | None]:
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


# -- call arguments ----------------------------------------------------------------------------

def _arg_item(node: cst.Arg, text: str) -> Item:
    if node.keyword is not None:
        return Item(("kw", node.keyword.value), text, label=f"{node.keyword.value}=", group="keyword")
    if node.star == "**":
        return Item(("**", text), text, group="keyword")
    return Item(None, text, group="positional")


def merge_call(ctx: Ctx, b: cst.Call, o: cst.Call, t: cst.Call) -> Outcome:
    callee = _short(ctx.code("ours", o.func), 30)
    return merge_commas(
        ctx, "call-arguments", f"call `{callee}(...)`", {"base": b.args, "ours": o.args, "theirs": t.args},
        _arg_item, _policy(ctx, _KeywordsAfterPositionals("arguments")),
        check=_positional_layout(lambda i: i.group == "positional"),
        container={"base": b, "ours": o, "theirs": t},
    )


# -- parameters --------------------------------------------------------------------------------

def _slots(params: cst.Parameters) -> list[tuple[cst.CSTNode, str]]:
    """Every element of a parameter list in source order, with its group."""
    slots: list[tuple[cst.CSTNode, str]] = [(p, "positional") for p in params.posonly_params]
    if isinstance(params.posonly_ind, cst.ParamSlash):
        slots.append((params.posonly_ind, "marker"))
    slots += [(p, "positional") for p in params.params]
    if isinstance(params.star_arg, (cst.Param, cst.ParamStar)):
        slots.append((params.star_arg, "marker"))
    slots += [(p, "keyword") for p in params.kwonly_params]
    if params.star_kwarg is not None:
        slots.append((params.star_kwarg, "varkw"))
    return slots


def merge_parameters(ctx: Ctx, b: cst.Parameters, o: cst.Parameters, t: cst.Parameters) -> Outcome:
    slots = {side: _slots(p) for side, p in zip(SIDES, (b, o, t), strict=True)}
    groups = {id(node): group for side in SIDES for node, group in slots[side]}

    def item(node: cst.CSTNode, text: str) -> Item:
        group = groups[id(node)]
        if isinstance(node, cst.ParamSlash):
            return Item(("/",), text, label="/", group=group)
        if group in ("marker", "varkw"):
            return Item((group,), text, label=text, group=group)
        return Item(("param", node.name.value), text, label=node.name.value, group=group)

    return merge_commas(
        ctx, "parameters", "parameters", {side: [n for n, _ in slots[side]] for side in SIDES},
        item, _policy(ctx, _KeywordsAfterPositionals("parameters")),
        check=_positional_layout(lambda i: i.group in ("positional", "marker")),
    )


# -- imports -----------------------------------------------------------------------------------

def _alias_item(node: cst.ImportAlias, text: str) -> Item:
    bound = node.evaluated_alias or node.evaluated_name.split(".")[0]
    return Item(("name", bound), text, label=bound)


def _sorted_by(items: list[list[Item]]) -> Callable[[Item], object] | None:
    """A sort key all three versions follow, if any: the order a formatter keeps."""
    for key in (lambda i: i.text, lambda i: i.text.lower(),
                lambda i: (not i.text.split()[0].isupper(), not i.text[:1].isupper(), i.text.lower())):
        if all([key(i) for i in lst] == sorted(key(i) for i in lst) for lst in items):
            return key
    return None


def merge_import_names(ctx: Ctx, b, o, t) -> Outcome:
    lists = {"base": b.names, "ours": o.names, "theirs": t.names}
    if any(isinstance(v, cst.ImportStar) for v in lists.values()):
        return refuse(ctx, "a `*` import changed")
    if isinstance(o, cst.ImportFrom) and (o.lpar is None) != (t.lpar is None):
        return refuse(ctx, "imports: one side added parentheses")
    spans = {side: _spans(ctx, side, lists[side]) for side in SIDES}
    if any(s is None for s in spans.values()):
        return refuse(ctx, "imports: layout not understood")
    items = [[_alias_item(n, ctx.text(side)[a:b]) for n, (a, b) in zip(lists[side], spans[side], strict=True)] for side in SIDES]
    key = _sorted_by(items)

    def arrange(chosen: list[tuple[str, Item]]) -> list[int] | None:
        if key is None:
            return None
        return sorted(range(len(chosen)), key=lambda n: key(chosen[n][1]))

    # Sorted names are placed by the sort; otherwise stack order (if allowed).
    policy = Unordered() if key is not None else _policy(ctx, Unordered())
    return merge_commas(ctx, "imports", f"imports from `{_module_name(o)}`", lists, _alias_item, policy,
                        arrange=arrange, container={"base": b, "ours": o, "theirs": t})


def _module_name(node) -> str:
    if isinstance(node, cst.ImportFrom):
        dots = "." * len(node.relative)
        return dots + (code_of(node.module) if node.module is not None else "")
    return "import"


# -- collections -------------------------------------------------------------------------------

def merge_collection(ctx: Ctx, b, o, t) -> Outcome:
    lists = {"base": b.elements, "ours": o.elements, "theirs": t.elements}
    if isinstance(o, cst.Dict):
        def item(node, text):
            if isinstance(node, cst.DictElement):
                key = code_of(node.key)
                return Item(("key", key), text, label=key)
            return Item(None, text)
        policy: Policy = _policy(ctx, _NoSpreads())
    else:
        def item(node, text):
            return Item(None, text)
        policy = _policy(ctx, Unordered()) if isinstance(o, cst.Set) else Policy()
    name = type(o).__name__.lower()
    return merge_commas(ctx, "collection-elements", f"{name} elements", lists, item, policy,
                        container={"base": b, "ours": o, "theirs": t})


# -- whole-line sequences: statements, decorators ----------------------------------------------

def _statement_item(node: cst.CSTNode, text: str, first: bool) -> Item:
    core = _without_leading_lines(text)
    if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        word = "class" if isinstance(node, cst.ClassDef) else "def"
        return Item(("def", node.name.value), text, label=f"{word} {node.name.value}", core=core)
    if isinstance(node, cst.SimpleStatementLine) and len(node.body) == 1:
        small = node.body[0]
        if first and isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
            return Item(("doc",), text, label="docstring", core=core)
        target = None
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
        elif isinstance(small, cst.AnnAssign):
            target = small.target
        if isinstance(target, cst.Name):
            return Item(("assign", target.value), text, label=f"{target.value} = ...", core=core)
        if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
            return Item(("from", "." * len(small.relative) + (code_of(small.module) if small.module else "")),
                        text, label=f"from {_module_name(small)} import ...", core=core)
    first_line = next((line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")), "")
    return Item(None, text, label=first_line, core=core)


def _without_leading_lines(text: str) -> str:
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
    if merged_any and _both_contributed(plan):
        before = tuple(_run_text(ctx, side, plan, spans) for side in SIDES)
        out.merges.append(StructuralMerge(ctx.qualname, kind, f"{what}: {_summary(plan, items)}", before,
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


def merge_body(ctx: Ctx, b, o, t) -> Outcome:
    return merge_statements(ctx, {"base": b.body, "ours": o.body, "theirs": t.body})


def merge_statements(ctx: Ctx, lists: dict[str, Sequence[cst.CSTNode]],
                     empty_at: dict[str, int] | None = None) -> Outcome:
    where = "module" if ctx.qualname == "module" else f"`{ctx.qualname}`"
    return merge_lines(ctx, "body-statements", f"statements of {where}", lists,
                       lambda node, text, k: _statement_item(node, text, k == 0), _policy(ctx, _Statements(ctx)),
                       empty_at=empty_at)


def merge_decorators(ctx: Ctx, b, o, t) -> Outcome:
    lists = {"base": b.decorators, "ours": o.decorators, "theirs": t.decorators}
    if not any(lists.values()):
        return Outcome()
    # Where a definition has no decorators, new ones go at the start of its `def`/`class` line.
    empty_at = {}
    for side, node in zip(SIDES, (b, o, t), strict=True):
        name_start = ctx.span(side, node.name)[0]
        empty_at[side] = ctx.text(side).rfind("\n", 0, name_start) + 1
    return merge_lines(ctx, "decorators", "decorators", lists,
                       lambda node, text, k: Item(None, text, label="@" + code_of(node.decorator)), Policy(),
                       empty_at=empty_at)


def merge_function(ctx: Ctx, b, o, t) -> Outcome:
    return merge_decorators(ctx, b, o, t)


# -- small statements, docstrings ----------------------------------------------------------------

def merge_small_statements(ctx: Ctx, b, o, t) -> Outcome:
    if len(b.body) == len(o.body) == len(t.body) == 1:
        return merge_node(ctx, b.body[0], o.body[0], t.body[0], transparent=True)
    if [ctx.code("ours", s) for s in o.body] != [ctx.code("theirs", s) for s in t.body]:
        return refuse(ctx, "both sides changed a line of several statements")
    return Outcome()


_STRING = re.compile(r"(?s)([rRuU]*)(\"\"\"|'''|\"|')(.*)\2")
_ENTRY = re.compile(r"[ \t]*(\*{0,2}[A-Za-z_]\w*)[ \t]*(\([^)\n]*\))?[ \t]*:(\s|$)")


_SECTION = re.compile(r"[ \t]*[A-Z][\w ]*:[ \t]*\r?\n?")


def _entries(body: str) -> list[Item]:
    """A docstring cut into entries: a line and the more-indented lines that continue it
    (a section header like `Args:` is an entry of its own)."""
    entries: list[list[str]] = []
    for line in body.splitlines(keepends=True):
        indent = len(line) - len(line.lstrip())
        head = entries[-1][0] if entries else ""
        if head.strip() and line.strip() and indent > _indent(head) and not _SECTION.fullmatch(head):
            entries[-1].append(line)
        else:
            entries.append([line])
    items = []
    for lines in entries:
        text = "".join(lines)
        match = _ENTRY.match(lines[0])
        key = ("entry", _indent(lines[0]), match.group(1)) if match else None
        items.append(Item(key, text, label=match.group(1) if match else lines[0].strip()))
    return items


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def merge_expression_statement(ctx: Ctx, b, o, t) -> Outcome:
    values = (b.value, o.value, t.value)
    if not all(isinstance(v, cst.SimpleString) for v in values):
        return merge_node(ctx, *values, transparent=True)
    parts = [_STRING.fullmatch(ctx.code(side, v)) for side, v in zip(SIDES, values, strict=True)]
    if any(p is None for p in parts) or len({(p.group(1), p.group(2)) for p in parts}) != 1:
        return refuse(ctx, "string statement: quotes differ")
    items = [_entries(p.group(3)) for p in parts]
    try:
        plan = merge_sequences(*items, _policy(ctx, _DocEntries()))
    except Refused as refused:
        return refuse(ctx, f"docstring: {refused}")
    if any(p.both for p in plan.picks):
        return refuse(ctx, "docstring: both sides changed the same entry")
    # Only `name: ...` entries (argument lists and the like) are merged; prose is for a human.
    prose = [items[0][i] for side in ("ours", "theirs") for i in plan.changed[side] + plan.deleted[side]] + \
        [items[1][j] for j in plan.inserted["ours"]] + [items[2][j] for j in plan.inserted["theirs"]]
    if any(item.key is None for item in prose):
        return refuse(ctx, "docstring: prose changed on both sides")
    touched = [items[SIDES.index(p.side)][p.index].text for p in plan.picks]
    changed = [items[1][j].text for j in plan.inserted["ours"]] + [items[2][j].text for j in plan.inserted["theirs"]]
    if any(">>>" in text for text in changed):
        return refuse(ctx, "docstring: doctest examples changed")
    text = parts[1].group(1) + parts[1].group(2) + "".join(touched) + parts[1].group(2)
    out = Outcome()
    for side, node in (("ours", o.value), ("theirs", t.value)):
        start, end = ctx.span(side, node)
        if ctx.text(side)[start:end] != text:
            out.edits[side].append(Edit(start, end, text))
    if _both_contributed(plan):
        out.merges.append(StructuralMerge(
            ctx.qualname, "docstring", f"docstring: {_summary(plan, dict(zip(SIDES, items, strict=True)))}",
            tuple(ctx.code(side, v) for side, v in zip(SIDES, values, strict=True)), text))
    return out


# -- the shapes --------------------------------------------------------------------------------

nodes.SHAPES.update({
    cst.FunctionDef: Shape(transparent=("body", "params"), sequences=("decorators",),
                           merge_sequences=merge_function, layout=("whitespace_before_params",),
                           independent=("returns",)),
    cst.ClassDef: Shape(transparent=("body",), sequences=("decorators",), merge_sequences=merge_decorators),
    cst.IndentedBlock: Shape(sequences=("body",), merge_sequences=merge_body),
    cst.If: Shape(transparent=("body", "orelse")),
    cst.Else: Shape(transparent=("body",)),
    cst.For: Shape(transparent=("body", "orelse")),
    cst.While: Shape(transparent=("body", "orelse")),
    cst.With: Shape(transparent=("body",)),
    cst.Try: Shape(transparent=("body", "orelse", "finalbody")),
    cst.ExceptHandler: Shape(transparent=("body",)),
    cst.Finally: Shape(transparent=("body",)),
    cst.SimpleStatementLine: Shape(sequences=("body",), merge_sequences=merge_small_statements),
    cst.Expr: Shape(sequences=("value",), merge_sequences=merge_expression_statement),
    cst.Assign: Shape(transparent=("value",)),
    cst.AnnAssign: Shape(transparent=("value",)),
    cst.AugAssign: Shape(transparent=("value",)),
    cst.Return: Shape(transparent=("value",)),
    cst.Await: Shape(transparent=("expression",)),
    cst.Call: Shape(transparent=("func",), sequences=("args",), merge_sequences=merge_call,
                    layout=("whitespace_before_args",)),
    cst.Attribute: Shape(transparent=("value",)),
    cst.Arg: Shape(transparent=("value",)),
    cst.Element: Shape(transparent=("value",)),
    cst.DictElement: Shape(transparent=("value",)),
    cst.Decorator: Shape(transparent=("decorator",)),
    cst.Parameters: Shape(sequences=("params", "star_arg", "kwonly_params", "star_kwarg", "posonly_params",
                                     "posonly_ind"), merge_sequences=merge_parameters),
    cst.ImportFrom: Shape(sequences=("names",), merge_sequences=merge_import_names, layout=("lpar", "rpar")),
    cst.Import: Shape(sequences=("names",), merge_sequences=merge_import_names),
    cst.List: Shape(sequences=("elements",), merge_sequences=merge_collection, layout=("lbracket", "rbracket")),
    cst.Tuple: Shape(sequences=("elements",), merge_sequences=merge_collection, layout=("lpar", "rpar")),
    cst.Set: Shape(sequences=("elements",), merge_sequences=merge_collection, layout=("lbrace", "rbrace")),
    cst.Dict: Shape(sequences=("elements",), merge_sequences=merge_collection, layout=("lbrace", "rbrace")),
})
