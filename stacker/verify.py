"""Checks that stand between a merge and publishing it.

Per step (cheap, in memory): every changed `.py` file parses, no conflict markers anywhere in a
changed file, and no name the result uses is undefined unless it already was in one of the
parents (pyflakes on the result, compared with ours and theirs; a result nested too deeply for
pyflakes to walk, where neither parent is, is a finding too). Textually clean merges that break
names are exactly the mistakes git cannot see.

Per bundle: the stack's `verify:` commands, run on an export of the bundle tree (for this bundle:
compiling the kernels for their real target). The engine knows nothing of what they check.
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stacker import flakes
from stacker.config import VerifyCommand
from stacker.linemerge import CONFLICT_MARKER_LINE


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


def check_file(path: str, result: str, ours: str | None, theirs: str | None) -> list[Finding]:
    """Problems the merge introduced into one file (nothing either parent already had)."""
    findings: list[Finding] = []
    for match in CONFLICT_MARKER_LINE.finditer(result):
        line = result.count("\n", 0, match.start()) + 1
        if not _has_marker_line(ours, match.group(0)) and not _has_marker_line(theirs, match.group(0)):
            findings.append(Finding(path, line, f"conflict marker '{match.group(0).strip()}' left in the file"))
    if not path.endswith(".py"):
        return findings
    tree, error = _parse(result, path)
    if tree is None:
        if _parse(ours or "", path)[0] is not None or _parse(theirs or "", path)[0] is not None:
            findings.append(Finding(path, error[0], f"does not parse: {error[1]}"))
        return findings
    parents = tuple(text for text in (ours, theirs) if text is not None)
    if flakes.name_findings_of(result) is None and all(flakes.name_findings_of(p) is not None for p in parents):
        # pyflakes ran out of stack on the result but not on the parents: the merge made the file
        # deeper than either side, and its names go unchecked. Not passed on silently.
        findings.append(Finding(path, 1, "nested too deeply for pyflakes to check its names "
                                         "(neither parent's version is)"))
        return findings
    for found in flakes.introduced(result, parents, (flakes.UNDEFINED, flakes.TWICE_DEFINED)):
        if found.kind == flakes.UNDEFINED:
            findings.append(Finding(path, found.line, f"undefined name '{found.name}' (defined in both parents' versions)"))
        else:
            # e.g. a second `def __init__` in a class that git merged cleanly: the later one silently wins
            findings.append(Finding(path, found.line, f"'{found.name}' is defined again, replacing an earlier "
                                                      "definition (neither parent did this)"))
    return findings


def _parse(source: str, path: str) -> tuple[ast.AST | None, tuple[int, str]]:
    try:
        tree = ast.parse(source, filename=path)
        # the compiler's own checks, which the parser leaves out: a keyword argument repeated (two
        # sides adding the same one), `return` outside a function, ... — Python refuses to import these
        compile(tree, path, "exec", dont_inherit=True)
        return tree, (0, "")
    except SyntaxError as exc:
        return None, (exc.lineno or 1, exc.msg)
    except ValueError as exc:  # e.g. null bytes
        return None, (1, str(exc))


def _has_marker_line(text: str | None, marker: str) -> bool:
    return text is not None and marker in text


@dataclass(frozen=True)
class CommandResult:
    name: str
    command: str
    returncode: int
    seconds: float
    output_tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def summary(self) -> str:
        lines = [line for line in self.output_tail.strip().splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"exit {self.returncode}"


def run_verify_command(command: VerifyCommand, tree_dir: Path, stack_path: Path, commit: str,
                       timeout: float | None = None) -> CommandResult:
    """Run one `verify:` command in the exported tree; `{tree}`, `{stack}`, `{commit}` and `{python}` (the
    interpreter running stacker, so `{python} -m stacker` needs nothing on PATH) are filled in."""
    line = command.run.format(tree=shlex.quote(str(tree_dir)), stack=shlex.quote(str(stack_path)), commit=commit,
                              python=shlex.quote(sys.executable))
    env = {**os.environ, "STACKER_TREE": str(tree_dir), "STACKER_STACK": str(stack_path), "STACKER_COMMIT": commit}
    start = time.monotonic()
    try:
        done = subprocess.run(line, shell=True, cwd=tree_dir, env=env, capture_output=True, text=True,
                              timeout=timeout)
        # the summary is the last line: a passing command's result (stdout), a failing one's error (stderr)
        code = done.returncode
        output = done.stderr + done.stdout if code == 0 else done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        code, output = 124, f"{exc.stdout or ''}{exc.stderr or ''}\ntimed out after {timeout} s"
    return CommandResult(name=command.name, command=line, returncode=code,
                         seconds=round(time.monotonic() - start, 2), output_tail=output[-4000:])
