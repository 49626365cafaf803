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

from collections.abc import Callable, Sequence

import libcst as cst

from stacker.structural import nodes
from stacker.structural.commas import element_spans, merge_commas, positional_layout
from stacker.structural.describe import short
from stacker.structural.docstring import merge_docstring
from stacker.structural.lines import merge_lines, without_leading_lines
from stacker.structural.nodes import Ctx, Outcome, Shape, merge_node, refuse
from stacker.structural.policies import KeywordsAfterPositionals, NoSpreads, StatementOrder, with_stack_order
from stacker.structural.sequence import Item, Policy, Unordered
from stacker.structural.snippet import code_of

SIDES = ("base", "ours", "theirs")


# -- call arguments ----------------------------------------------------------------------------

def _arg_item(node: cst.Arg, text: str) -> Item:
    if node.keyword is not None:
        return Item(("kw", node.keyword.value), text, label=f"{node.keyword.value}=", group="keyword")
    if node.star == "**":
        return Item(("**", text), text, group="keyword")
    return Item(None, text, group="positional")


def merge_call(ctx: Ctx, b: cst.Call, o: cst.Call, t: cst.Call) -> Outcome:
    callee = short(ctx.code("ours", o.func), 30)
    return merge_commas(
        ctx, "call-arguments", f"call `{callee}(...)`", {"base": b.args, "ours": o.args, "theirs": t.args},
        _arg_item, with_stack_order(ctx, KeywordsAfterPositionals("arguments")),
        check=positional_layout(lambda i: i.group == "positional"),
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
        item, with_stack_order(ctx, KeywordsAfterPositionals("parameters")),
        check=positional_layout(lambda i: i.group in ("positional", "marker")),
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
    modules = {_module_name(node) for node in (b, o, t)}
    if len(modules) > 1:
        # Names belong to their module: `cast` added to `from typing import ...` does not exist in
        # the `collections` the other side now imports from.
        return refuse(ctx, f"imports: the module imported from changed ({', '.join(sorted(modules))})")
    spans = {side: element_spans(ctx, side, lists[side]) for side in SIDES}
    if any(s is None for s in spans.values()):
        return refuse(ctx, "imports: layout not understood")
    items = [[_alias_item(n, ctx.text(side)[a:b]) for n, (a, b) in zip(lists[side], spans[side], strict=True)] for side in SIDES]
    key = _sorted_by(items)

    def arrange(chosen: list[tuple[str, Item]]) -> list[int] | None:
        if key is None:
            return None
        return sorted(range(len(chosen)), key=lambda n: key(chosen[n][1]))

    # Sorted names are placed by the sort; otherwise stack order (if allowed).
    policy = Unordered() if key is not None else with_stack_order(ctx, Unordered())
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
        policy: Policy = with_stack_order(ctx, NoSpreads())
    else:
        def item(node, text):
            return Item(None, text)
        policy = with_stack_order(ctx, Unordered()) if isinstance(o, cst.Set) else Policy()
    name = type(o).__name__.lower()
    return merge_commas(ctx, "collection-elements", f"{name} elements", lists, item, policy,
                        container={"base": b, "ours": o, "theirs": t})


# -- statements and decorators ---------------------------------------------------------------

def _statement_item(node: cst.CSTNode, text: str, first: bool) -> Item:
    core = without_leading_lines(text)
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


def merge_body(ctx: Ctx, b, o, t) -> Outcome:
    return merge_statements(ctx, {"base": b.body, "ours": o.body, "theirs": t.body})


def merge_statements(ctx: Ctx, lists: dict[str, Sequence[cst.CSTNode]],
                     empty_at: dict[str, int] | None = None) -> Outcome:
    where = "module" if ctx.qualname == "module" else f"`{ctx.qualname}`"
    return merge_lines(ctx, "body-statements", f"statements of {where}", lists,
                       lambda node, text, k: _statement_item(node, text, k == 0), with_stack_order(ctx, StatementOrder(ctx)),
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


# -- small statements ------------------------------------------------------------------------

def merge_expression_statement(ctx: Ctx, b, o, t) -> Outcome:
    values = (b.value, o.value, t.value)
    if all(isinstance(v, cst.SimpleString) for v in values):
        return merge_docstring(ctx, values)
    return merge_node(ctx, *values, transparent=True)


def merge_small_statements(ctx: Ctx, b, o, t) -> Outcome:
    if len(b.body) == len(o.body) == len(t.body) == 1:
        return merge_node(ctx, b.body[0], o.body[0], t.body[0], transparent=True)
    if [ctx.code("ours", s) for s in o.body] != [ctx.code("theirs", s) for s in t.body]:
        return refuse(ctx, "both sides changed a line of several statements")
    return Outcome()


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
