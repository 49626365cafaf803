"""One side wrapped a block in new control flow; the other side edited the block in place.

A common shape when an upstream moves under a PR: the PR turns `<block>` into
`if feature: <new code> else: <block>` (the block re-indented under the `else:`), while upstream
edited `<block>` itself (a renamed helper, a new argument). git sees one conflict over the whole
block. A maintainer keeps the PR's new structure and puts upstream's version of the block where
the PR put the old one. This layer does exactly that, and only when it is exact:

- the wrapping side holds the base block, every code line of it, in order, uniformly indented by a
  non-empty amount, under a line that opens a block (`else:`, `if ...:`) where the block stood;
  inside the re-indented block it may only have dropped comment lines (its comment-only edits are
  then lost to the editing side's text, which has the block's comments);
- the editing side changed the block (else this would not be a conflict) and its lines all sit
  at or below the block's indentation, without multi-line strings (re-indenting is then exact);
- the editing side did not wrap the block too: two sides each putting it under new control flow
  (pip's `configuration.py`: an `if os.access(...)` on one side, a `try`/`except` on the other)
  wrote two alternatives, and nesting one in the other runs both;
- the result parses;
- the wrapper is not an import fallback (`try: <imports> except ImportError: <other imports>`):
  the fallback stands in for exactly the imports the block had, so a change to them is a
  decision about both (flask's `json.py`: theirs added a fallback to `itsdangerous.json`, ours
  replaced the import; the human kept theirs' import in the `try`, not ours).

Upstream's edit often is an API rename the wrapping side's *new* code still uses (e.g. a helper
that moved module). When the edit renamed a dotted name `X` to `Y` and `X` appears nowhere else
in the editing side's file, `X` is renamed in the wrapping side's new lines too, and the log says
so. Anything else stays a conflict.
"""

from __future__ import annotations

import difflib
import io
import re
import textwrap
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass

from stacker.filemerge import HunkAnswer, HunkAt, LayerOutcome, resolve_hunk_by_hunk, with_text
from stacker.hunks import indent_of, is_import_line, lines
from stacker.linemerge import MergedText
from stacker.pysource import parse_module


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _is_code(line: str) -> bool:
    return bool(line.strip()) and not _is_comment(line)


@dataclass(frozen=True)
class Rewrap:
    text: str  # the merged hunk
    renames: tuple[tuple[str, str], ...]  # dotted-name renames replayed onto the wrapping side's new code


def _code_tokens(text: str) -> list[tokenize.TokenInfo] | None:
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(_dedent(text)).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    return [t for t in toks if t.type not in skip]


def _dedent(text: str) -> str:
    return textwrap.dedent(text)


def _multiline_strings(text: str) -> bool:
    tokens = _code_tokens(text)
    return tokens is None or any(t.type == tokenize.STRING and t.start[0] != t.end[0] for t in tokens)


def _dotted_at(tokens: list[str], i: int) -> tuple[int, int]:
    """The span of the dotted name (NAME(.NAME)*) around token i."""
    def is_name(k: int) -> bool:
        return 0 <= k < len(tokens) and re.fullmatch(r"[A-Za-z_]\w*", tokens[k]) is not None

    lo = i
    while lo - 2 >= 0 and tokens[lo - 1] == "." and is_name(lo - 2):
        lo -= 2
    hi = i
    while hi + 2 < len(tokens) and tokens[hi + 1] == "." and is_name(hi + 2):
        hi += 2
    return lo, hi + 1


def renamed_names(before: str, after: str) -> list[tuple[str, str]]:
    """Dotted names `before` used that `after` replaced by another dotted name at the same place."""
    a, b = _code_tokens(before), _code_tokens(after)
    if a is None or b is None:
        return []
    ta, tb = [t.string for t in a], [t.string for t in b]
    found: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if tag != "replace":
            continue
        x0, x1 = _dotted_at(ta, i1)
        y0, y1 = _dotted_at(tb, j1)
        if x1 < i2 or y1 < j2:
            continue  # the change is more than a name
        old, new = "".join(ta[x0:x1]), "".join(tb[y0:y1])
        if old != new and "." in old + new and (old, new) not in found:
            found.append((old, new))
    return found


def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.])" + re.escape(name) + r"(?![\w])")


def rewrap(base: str, wrapper: str, editor: str, editor_file: str) -> Rewrap | None:
    """The hunk with `editor`'s block inside `wrapper`'s new structure, or None if the shape differs."""
    b, w, e = lines(base), lines(wrapper), lines(editor)
    b_code = [line for line in b if _is_code(line)]
    if not b_code or editor == base or wrapper == base:
        return None
    block_indent = indent_of(b_code[0])
    if any(not line.startswith(block_indent) for line in b_code):
        return None
    for start, end, extra, opener in _wrappings(b, w, block_indent, b_code[0]):
        prefix, suffix = w[:start], w[end:]
        if any(_is_code(line) and not line.startswith(block_indent) for line in e) or _multiline_strings(editor):
            return None
        if _import_fallback(opener, suffix, b_code):
            return None
        if next(_wrappings(b, e, block_indent, b_code[0]), None) is not None:
            return None  # both sides wrapped the block: two alternatives (`try` or `if`), not an edit
        renames = [(old, new) for old, new in renamed_names(base, editor)
                   if not _name_pattern(old).search(editor_file)
                   and any(_name_pattern(old).search(x) for x in prefix + suffix)]
        new_prefix, new_suffix = "".join(prefix), "".join(suffix)
        for old, new in renames:
            new_prefix = _name_pattern(old).sub(new, new_prefix)
            new_suffix = _name_pattern(old).sub(new, new_suffix)
        body = "".join(extra + line if line.strip() else line for line in e)
        return Rewrap(new_prefix + body + new_suffix, tuple(renames))
    return None


def _wrappings(base: list[str], wrapper: list[str], block_indent: str,
               first: str) -> Iterator[tuple[int, int, str, str]]:
    """Each place where `wrapper` holds the base block re-indented under a line that opens a
    block (`else:`, `try:`) at the block's old indentation: (start, end, extra indent, opener)."""
    for start, line in enumerate(wrapper):
        if not _is_code(line) or line.strip() != first.strip():
            continue
        extra = indent_of(line)[len(block_indent):]
        if not extra or indent_of(line) != block_indent + extra:
            continue
        end = _match_run(base, wrapper, start, extra)
        if end is None:
            continue
        opener = next((p for p in reversed(wrapper[:start]) if _is_code(p)), None)
        if opener is None or not opener.rstrip().endswith(":") or indent_of(opener) != block_indent:
            continue
        yield start, end, extra, opener


_CATCHES_IMPORT_ERROR = re.compile(r"\s*except\b[^:]*\b(ImportError|ModuleNotFoundError)\b")


def _import_fallback(opener: str, suffix: list[str], block: list[str]) -> bool:
    """Whether the wrapper is `try: <imports> except ImportError: <fallback>`: the fallback is an
    alternative to exactly the imports the block had, so the other side's change to them (another
    module, another name) is a decision about both, not an edit to move inside."""
    return (opener.strip() == "try:" and any(is_import_line(line) for line in block)
            and any(_CATCHES_IMPORT_ERROR.match(line) for line in suffix))


def _match_run(base: list[str], wrapper: list[str], start: int, extra: str) -> int | None:
    """End (exclusive) of the run of `wrapper` from `start` that is `base` re-indented by `extra`.

    Comment-only lines of the base may be missing in the run; the run may not add any line.
    """
    i, j = 0, start
    while i < len(base):
        line = base[i]
        if j < len(wrapper) and (extra + line if line.strip() else line).rstrip() == wrapper[j].rstrip():
            i, j = i + 1, j + 1
        elif not _is_code(line):
            i += 1  # a comment or blank line the wrapping side dropped
        else:
            return None
    return j if j > start else None


@dataclass
class WrappedBlockLayer:
    name: str = "wrapped"

    def resolve(self, path: str, merged: MergedText) -> LayerOutcome | None:
        if not path.endswith(".py"):
            return None
        views = merged.views()

        def attempt(at: HunkAt, resolved: dict[int, str]) -> HunkAnswer | None:
            hunk = at.hunk
            for wrapper, editor, editor_view, who in ((hunk.theirs, hunk.ours, views[1], "theirs"),
                                                      (hunk.ours, hunk.theirs, views[2], "ours")):
                result = rewrap(hunk.base, wrapper, editor, editor_view)
                if result is None or parse_module(with_text(merged, resolved, at.index, result.text)) is None:
                    continue
                other = "ours" if who == "theirs" else "theirs"
                detail = (f"{who} wrapped the block in new control flow, {other} edited it: {other}'s block "
                          f"placed inside {who}'s structure")
                if result.renames:
                    detail += "; renamed in " + who + "'s new code as " + other + " did: " + ", ".join(
                        f"`{old}` -> `{new}`" for old, new in result.renames)
                return HunkAnswer(result.text, detail)
            return None

        return resolve_hunk_by_hunk(self.name, path, merged, attempt)
