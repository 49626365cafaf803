"""`stacker push`: publish the bundle branch to a remote with a lease, never over someone else's push.

The bundle branch on a shared remote is also written by people (a maintainer's hot fix) and by
other runs. A plain `--force` would silently drop their work; git's `--force-with-lease=ref:sha`
updates the remote only if it still points where we expect, in one atomic step on the server.
The expectation is what stacker itself pushed there last, recorded in stack.lock (`pushed`), so
it travels with the lock that CI commits and holds across fresh work dirs. With no record, the
remote branch must not exist yet; `--expect SHA` adopts a branch stacker did not push.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from stacker.config import Stack
from stacker.errors import GitError, StackerError
from stacker.gitrepo import Repository
from stacker.lockfile import read_lock, write_lock
from stacker.workspace import workspace_for

_USERINFO = re.compile(r"([a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


class PushRefused(StackerError):
    """The remote branch is not where stacker left it; nothing was pushed."""

    exit_code = 1


@dataclass(frozen=True)
class PushResult:
    remote: str  # as recorded: credentials stripped
    branch: str
    pushed: str
    previous: str | None  # what the remote had
    up_to_date: bool


def remote_key(url: str) -> str:
    """The remote as recorded in stack.lock: a URL without credentials, a local path made absolute."""
    if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):
        return _USERINFO.sub(r"\1", url)
    path = Path(url).expanduser()
    return str(path.resolve()) if path.exists() else url


def push(stack: Stack, remote: str, branch: str | None = None, expect: str | None = None,
         workdir: Path | None = None) -> PushResult:
    target = branch or stack.branch
    ref = f"refs/heads/{target}"
    lock = read_lock(stack.lock_path())
    key = remote_key(remote)
    ws = workspace_for(stack.path, workdir)
    with ws.locked() as repo:
        head = repo.ref(f"refs/heads/{stack.branch}")
        if head is None:
            raise StackerError(f"{stack.branch} has not been built in {ws.repo_path}; run `stacker build` first")
        if head != lock.head:
            raise StackerError(f"{stack.branch} is at {head[:12]} but {stack.lock_path().name} records {lock.head[:12]}; "
                               "run `stacker build` so the lock describes what is pushed")
        expected = expect if expect is not None else lock.pushed.get(key, {}).get(target, "")
        current = _remote_head(repo, remote, ref)
        if current == head:
            previous = current
        elif (current or "") != expected:
            raise PushRefused(_refusal(remote, target, current, expected, expect is not None))
        else:
            previous = current
            _push_with_lease(repo, remote, head, ref, expected, target)
        pushes = {**lock.pushed, key: {**lock.pushed.get(key, {}), target: head}}
        if pushes != lock.pushed:
            write_lock(stack.lock_path(), replace(lock, pushed=pushes))
    return PushResult(remote=key, branch=target, pushed=head, previous=previous, up_to_date=previous == head)


def _remote_head(repo: Repository, remote: str, ref: str) -> str | None:
    status, out, err = repo.run("ls-remote", remote, ref)
    if status != 0:
        raise GitError(f"cannot reach {remote_key(remote)}: {_last_line(err)}")
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        if name == ref:
            return sha
    return None


def _push_with_lease(repo: Repository, remote: str, head: str, ref: str, expected: str, target: str) -> None:
    # The lease is checked by the server at update time: if the branch moved after our ls-remote, git
    # rejects the push ("stale info") instead of overwriting. An empty expectation means "must not exist".
    status, out, err = repo.run("push", "--porcelain", "--no-verify", f"--force-with-lease={ref}:{expected}",
                                remote, f"{head}:{ref}")
    if status != 0:
        if "stale info" in out + err or "[rejected]" in out + err:  # --porcelain reports refs on stdout
            raise PushRefused(f"{remote_key(remote)} {target} moved while pushing (lease expected "
                              f"{expected[:12] or 'no branch'}); nothing was overwritten, run `stacker push` again")
        raise GitError(f"pushing {target} to {remote_key(remote)} failed: {_last_line(err)}")


def _refusal(remote: str, target: str, current: str | None, expected: str, explicit: bool) -> str:
    where = f"{remote_key(remote)} {target}"
    if current is None:
        return (f"{where} was deleted (stacker last pushed {expected[:12]}); refusing to recreate it; "
                "pass --expect '' to push anyway")
    if not expected:
        how = "the --expect given" if explicit else "stacker has no record of pushing it"
        return (f"{where} is at {current[:12]}, and {how}; refusing to overwrite it; "
                f"pass --expect {current} to replace it")
    return (f"{where} moved to {current[:12]} since stacker pushed {expected[:12]}; refusing to overwrite it; "
            f"look at what was pushed there, then pass --expect {current} to replace it")


def _last_line(text: str) -> str:
    """git's last message line, with any credentials in a URL it quotes removed."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return _USERINFO.sub(r"\1", lines[-1]) if lines else "(no message)"
