"""Property tests: generated modules, random edits on both sides; the structural merge never
crashes, and its result is either clean Python that compiles or still carries conflict markers."""

from __future__ import annotations

import ast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacker.filemerge import FileVersions, merge_file
from stacker.linemerge import line_merge, resolve_trivial
from stacker.structural import StructuralLayer, merge_python

NAMES = ["alpha", "beta", "gamma", "delta", "q", "k", "v", "stream", "seed", "tile"]


def call(func: str, kwargs: list[tuple[str, str]], multiline: bool, indent: str) -> str:
    if not multiline:
        return f"{indent}{func}(" + ", ".join(f"{k}={v}" for k, v in kwargs) + ")\n"
    inner = "".join(f"{indent}    {k}={v},\n" for k, v in kwargs)
    return f"{indent}{func}(\n{inner}{indent})\n"


def function(name: str, params: list[tuple[str, str]], body: list[str], indent: str = "") -> str:
    signature = ", ".join(f"{p}={d}" for p, d in params)
    lines = "".join(f"{indent}    {line}\n" for line in body) or f"{indent}    pass\n"
    return f"{indent}def {name}(self, {signature}):\n" if indent else f"{indent}def {name}({signature}):\n", lines


# A module is a list of blocks; a block is a dict the renderer turns into text.
block = st.one_of(
    st.fixed_dictionaries({"kind": st.just("import"), "names": st.lists(st.sampled_from(NAMES), min_size=1,
                                                                            max_size=4, unique=True)}),
    st.fixed_dictionaries({
        "kind": st.just("def"), "name": st.sampled_from(NAMES),
        "params": st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(["0", "None", "1.0"])),
                           max_size=4, unique_by=lambda p: p[0]),
        "body": st.lists(st.sampled_from(["x = 1", "y = x + 1", "return x", "self.a = 2", "print(x)",
                                          "if x:\n        x = 2"]), max_size=3),
    }),
    st.fixed_dictionaries({
        "kind": st.just("call"), "func": st.sampled_from(["launch", "self.kernel(q).launch", "setup"]),
        "kwargs": st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(["1", "q", "[1, 1, 1]"])),
                           max_size=4, unique_by=lambda p: p[0]),
        "multiline": st.booleans(),
    }),
    st.fixed_dictionaries({"kind": st.just("assign"), "name": st.sampled_from(NAMES),
                           "items": st.lists(st.sampled_from(["1", "2", "'s'", "q"]), max_size=4)}),
)


def render(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        if b["kind"] == "import":
            out.append("from pkg import (\n" + "".join(f"    {n},\n" for n in b["names"]) + ")\n")
        elif b["kind"] == "def":
            header, body = function(b["name"], b["params"], [line.replace("\n        ", "\n        ")
                                                               for line in b["body"]])
            out.append("\n\n" + header + body)
        elif b["kind"] == "call":
            out.append(call(b["func"], b["kwargs"], b["multiline"], ""))
        else:
            out.append(f"{b['name']} = [" + ", ".join(b["items"]) + "]\n")
    return "".join(out)


@st.composite
def edited(draw, blocks: list[dict]) -> list[dict]:
    """The module with a few random edits: insert, delete, change a block, add/remove elements."""
    blocks = [dict(b) for b in blocks]
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["insert", "delete", "replace", "grow", "shrink", "swap"]))
        if action == "insert" or not blocks:
            blocks.insert(draw(st.integers(0, len(blocks))), draw(block))
            continue
        i = draw(st.integers(0, len(blocks) - 1))
        b = dict(blocks[i])
        if action == "delete":
            del blocks[i]
        elif action == "replace":
            blocks[i] = draw(block)
        elif action == "swap" and len(blocks) > 1:
            j = draw(st.integers(0, len(blocks) - 1))
            blocks[i], blocks[j] = blocks[j], blocks[i]
        else:
            field = {"import": "names", "def": "params", "call": "kwargs", "assign": "items"}[b["kind"]]
            items = list(b[field])
            if action == "grow":
                new = {"import": st.sampled_from(NAMES),
                       "def": st.tuples(st.sampled_from(NAMES), st.sampled_from(["0", "2", "None"])),
                       "call": st.tuples(st.sampled_from(NAMES), st.sampled_from(["1", "2", "q"])),
                       "assign": st.sampled_from(["3", "'t'", "v"])}[b["kind"]]
                items.insert(draw(st.integers(0, len(items))), draw(new))
            elif items:
                del items[draw(st.integers(0, len(items) - 1))]
            if b["kind"] in ("import", "def", "call"):  # names must stay unique
                seen, unique = set(), []
                for item in items:
                    key = item if isinstance(item, str) else item[0]
                    if key not in seen:
                        seen.add(key)
                        unique.append(item)
                items = unique
            if b["kind"] == "import" and not items:
                items = ["alpha"]
            b[field] = items
            blocks[i] = b
    return blocks


@st.composite
def three_versions(draw):
    base = draw(st.lists(block, min_size=1, max_size=6))
    return render(base), render(draw(edited(base))), render(draw(edited(base)))


def _compiles(text: str) -> bool:
    try:
        compile(text, "<merged>", "exec", dont_inherit=True)
    except SyntaxError:
        return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(three_versions())
def test_result_is_clean_python_or_carries_markers(versions):
    base, ours, theirs = versions
    for text in versions:
        assert _compiles(text), text  # the generator writes valid modules
    result = merge_python(base, ours, theirs, "generated.py")
    if result.is_clean:
        assert _compiles(result.text)
        assert "<<<<<<<" not in result.text
    else:
        rendered = result.merged.render()
        assert "<<<<<<<" in rendered and ">>>>>>>" in rendered
    git_alone, _ = resolve_trivial(line_merge(base, ours, theirs))
    if git_alone.is_clean and not _compiles(git_alone.view("ours")):
        assert not result.is_clean  # git's clean but broken merge is turned into a conflict
    else:
        assert len(result.merged.conflicts) <= len(git_alone.conflicts)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(three_versions())
def test_chain_with_the_layer_is_never_worse_than_git(versions):
    base, ours, theirs = versions
    merged = merge_file(FileVersions("generated.py", base, ours, theirs), [StructuralLayer()])
    git_alone, _ = resolve_trivial(line_merge(base, ours, theirs))
    assert len(merged.merged.conflicts) <= len(git_alone.conflicts)
    if merged.is_clean and not git_alone.is_clean:  # the layer made it clean: it must compile
        assert _compiles(merged.text)
        ast.parse(merged.text)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(three_versions())
def test_merging_is_symmetric_in_what_it_resolves(versions):
    # Swapping the sides may change the order of both sides' insertions, never whether a
    # conflict is resolved: every rule is symmetric.
    base, ours, theirs = versions
    forward = merge_python(base, ours, theirs, "generated.py")
    backward = merge_python(base, theirs, ours, "generated.py")
    assert forward.is_clean == backward.is_clean
