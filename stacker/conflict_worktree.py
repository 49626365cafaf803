"""The worktree where a stopped build shows its conflicts, and the state `stacker resolve` reads.

It is a git worktree of stacker's own repository inside the work dir — never the user's checkout.
HEAD is the bundle tip before the failing step; the files hold the step's result, conflict
markers included, so `git diff` there shows exactly what the PR changes and where it collides.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from stacker.conflicts import UnresolvedConflict
from stacker.gitrepo import Repository
from stacker.workspace import Workspace


@dataclass(frozen=True)
class ConflictState:
    step_pr: int
    parent: str
    tree: str
    worktree: str
    conflicts: list[dict]
    build_options: dict


def materialize(repo: Repository, ws: Workspace, parent: str, tree: str) -> Path:
    path = ws.conflict_worktree
    discard(repo, ws)
    repo.git("worktree", "add", "--detach", "--force", str(path), parent)
    worktree = Repository(path)
    worktree.git("read-tree", "-u", "--reset", tree)
    worktree.git("reset", "-q")  # index back to HEAD: every change shows in `git diff`
    return path


def discard(repo: Repository, ws: Workspace) -> None:
    path = ws.conflict_worktree
    if path.exists():
        if repo.run("worktree", "remove", "--force", "--force", str(path))[0] != 0:
            shutil.rmtree(path, ignore_errors=True)
    repo.run("worktree", "prune")
    ws.conflict_state.unlink(missing_ok=True)


def save_state(ws: Workspace, step_pr: int, parent: str, tree: str,
               unresolved: list[UnresolvedConflict], build_options: dict) -> None:
    state = ConflictState(
        step_pr=step_pr, parent=parent, tree=tree, worktree=str(ws.conflict_worktree),
        conflicts=[{"path": u.path, "kind": u.kind, "qualname": u.qualname, "lines": list(u.lines),
                    "hunk": asdict(u.hunk) if u.hunk else None} for u in unresolved],
        build_options=build_options,
    )
    tmp = ws.conflict_state.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    tmp.replace(ws.conflict_state)


def load_state(ws: Workspace) -> ConflictState | None:
    if not ws.conflict_state.exists():
        return None
    return ConflictState(**json.loads(ws.conflict_state.read_text(encoding="utf-8")))
