"""A region of one version of a file, parsed with libcst, with the text span of every node.

Parsing three whole files with libcst costs about a second for a 4,000-line module; a conflict
needs only the statements around it. A region is a run of whole statements at one indentation:
it is parsed behind a one-line prefix that makes it a valid module (`pass` at column 0, `if 1:`
when indented), so the statements keep their own text, comments and indentation byte for byte,
and every node maps back to an offset range in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import libcst as cst
from libcst._nodes.internal import CodegenState

_EMPTY = cst.Module(body=[])


def code_of(node: cst.CSTNode) -> str:
    """The source of a node on its own (for nodes made here, which have no position)."""
    return _EMPTY.code_for_node(node)


@dataclass
class _Offsets(CodegenState):
    """libcst's code generator, recording where each node's text starts and ends.

    (libcst's own position providers compute lines and columns through its metadata machinery,
    which visits the tree twice; offsets are what a text merge needs, in one pass.)
    """

    offset: int = 0
    spans: dict = field(default_factory=dict)
    stack: list = field(default_factory=list)

    def add_indent_tokens(self) -> None:
        self.tokens.extend(self.indent_tokens)
        self.offset += sum(len(t) for t in self.indent_tokens)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self.offset += len(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.stack.append(self.offset)

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self.stack.pop()
        self.spans.setdefault(node, (start, self.offset))

    def pop_trailing_newline(self) -> None:
        if self.tokens:
            self.offset -= len(self.tokens.pop())


@dataclass
class Snippet:
    """Statements parsed from `text`; `statements` are the region's own, without the prefix."""

    text: str  # prefix + region + suffix
    prefix: str
    suffix: str
    module: cst.Module
    statements: tuple[cst.BaseStatement, ...]

    @cached_property
    def spans(self) -> dict[cst.CSTNode, tuple[int, int]]:
        state = _Offsets(default_indent=self.module.default_indent, default_newline=self.module.default_newline)
        self.module._codegen(state)
        return state.spans

    def span(self, node: cst.CSTNode) -> tuple[int, int]:
        """Offsets of `node` in `text`, leading comments and indentation included."""
        start, end = self.spans[node]
        return start, min(end, len(self.text))

    def code(self, node: cst.CSTNode) -> str:
        if node in self.spans:
            start, end = self.span(node)
            return self.text[start:end]
        return code_of(node)

    @property
    def region(self) -> str:
        return self.text[len(self.prefix):len(self.text) - len(self.suffix)]


def parse_region(region: str, indent: str, suffix: str = "") -> Snippet | None:
    """Parse a run of statements indented by `indent` (followed by `suffix`, a stub that
    completes a statement cut short); None when it is not one."""
    newline = "\r\n" if "\r\n" in region[:200] else "\n"
    prefix = f"if 1:{newline}" if indent else f"pass{newline}"
    text = prefix + region + suffix
    try:
        module = cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None
    if indent:
        if len(module.body) != 1 or not isinstance(module.body[0], cst.If) \
                or not isinstance(module.body[0].body, cst.IndentedBlock) or module.body[0].body.footer:
            return None
        statements = tuple(module.body[0].body.body)
    else:
        statements = tuple(module.body[1:])
        if module.footer:
            return None
    snippet = Snippet(text=text, prefix=prefix, suffix=suffix, module=module, statements=statements)
    if not statements:
        return snippet if not region.strip() else None
    return snippet


def covers(snippet: Snippet) -> bool:
    """Whether the statements cover the region exactly, so that offsets map back."""
    if not snippet.statements:
        return True
    first, last = snippet.span(snippet.statements[0]), snippet.span(snippet.statements[-1])
    return first[0] == len(snippet.prefix) and last[1] == len(snippet.text)
