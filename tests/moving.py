"""A small upstream that moves: a base, three PRs on separate files, and the moves upstream makes.

Files mimic the shape of a kernel package: a kernel module, an interface with a dispatch function,
a README. PR #1 adds paged KV to the kernel, #2 adds dropout to the interface, #3 adds a new
module. Each move the keep-alive tests need is one method.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.gitrepos import Upstream, git, write_stack

KERNEL = "def launch(grid, block):\n    return (grid, block)\n"
INTERFACE = "def attention(q, k, v):\n    out = q\n    return out\n"
BASE_FILES = {"kernel.py": KERNEL, "interface.py": INTERFACE, "README": "hello\n"}
PR_FILES = {
    1: {"kernel.py": KERNEL + "\n\ndef paged(table):\n    return table\n"},
    2: {"interface.py": "def attention(q, k, v, dropout_p=0.0):\n    out = q\n    return out\n"},
    3: {"sparse.py": "def block_sparse(mask):\n    return mask\n"},
}


@dataclass
class MovingStack:
    upstream: Upstream
    stack: Path
    base: str
    heads: dict[int, str]

    @property
    def dir(self) -> Path:
        return self.stack.parent

    @property
    def work(self) -> Path:
        return self.dir / ".stacker"

    @property
    def lock(self) -> dict:
        return json.loads((self.dir / "stack.lock").read_text())

    def report(self) -> dict:
        return json.loads((self.work / "bundle.json").read_text())

    def commits(self) -> dict[int, str | None]:
        """The published bundle's commit per PR (None: already applied), from stack.lock."""
        return {p["number"]: p["commit"] for p in self.lock["prs"]}

    # -- upstream moves ----------------------------------------------------------------------
    def unrelated_commit(self) -> str:
        return self.upstream.commit({"README": "hello, moved on\n"}, "Update README")

    def touching_commit(self) -> str:
        """Changes a file PR #1 changes, far from its edit: applies cleanly but is where conflicts come from."""
        return self.upstream.commit({"kernel.py": "# kernels\n" + self.upstream_file("kernel.py")}, "Add kernel header")

    def force_push(self, number: int, text: str = "\n# revised\n") -> str:
        files = {path: content + text for path, content in PR_FILES[number].items()}
        self.heads[number] = self.upstream.pr(number, files, f"pr {number}, revised", self.base)
        return self.heads[number]

    def add_commit_to(self, number: int) -> str:
        files = {path: content + "\n# follow-up\n" for path, content in PR_FILES[number].items()}
        self.heads[number] = self.upstream.pr(number, files, f"pr {number}, follow-up", self.heads[number])
        return self.heads[number]

    def squash_merge(self, number: int) -> str:
        """Upstream merges the PR as one new commit (its head never becomes an ancestor of main)."""
        return self.upstream.commit(PR_FILES[number], f"pr {number} (#{number})")

    def upstream_file(self, path: str, ref: str = "refs/heads/main") -> str:
        return git(self.upstream.path, "show", f"{ref}:{path}") + "\n"


def moving_stack(tmp_path: Path, upstream: Upstream, verify: str | None = None) -> MovingStack:
    base = upstream.commit(BASE_FILES, "initial")
    heads = {n: upstream.pr(n, files, f"pr {n}", base) for n, files in PR_FILES.items()}
    extra = {}
    if verify:
        extra["verify"] = f"\n  - name: check\n    run: {verify}"
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": n} for n in PR_FILES], **extra)
    return MovingStack(upstream=upstream, stack=stack, base=base, heads=heads)
