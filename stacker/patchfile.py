"""A maintainer's patch file (stack.yaml `patches:`) read as data: its message, its author and its diff.

A patch is either a `git format-patch` mail or a plain unified diff (`git diff`, `diff -ruN a b`).
`git mailinfo` — the splitter `git am` itself uses — separates the mail headers and the commit
message from the diff, so a file that `git am` reads is read the same way here; unidiff parses the
diff for what it touches, and `git apply --numstat` confirms that git will accept it. Nothing here
needs a repository: stack.yaml is validated with it before anything is fetched.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

_INDEX = re.compile(r"^index ([0-9a-f]{4,64})\.\.([0-9a-f]{4,64})(?: (\d{6}))?$")
_ZERO = re.compile(r"^0+$")
_MBOX_FROM = re.compile(r"^From [0-9a-f]{40} ")


class PatchFormatError(Exception):
    """The file is missing or is not a patch git can apply; the message says why, in one line."""


@dataclass(frozen=True)
class FilePatch:
    """One file's part of a patch, as git will apply it with -p1."""

    old_path: str | None  # None: the patch creates the file
    new_path: str | None  # None: the patch deletes the file
    old_blob: str | None  # the preimage's (abbreviated) blob id from the `index` line, when given
    old_mode: str | None
    binary: bool

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


@dataclass(frozen=True)
class PatchFile:
    path: Path
    sha256: str  # of the file's bytes: what the commit trailer pins
    kind: str  # "format-patch" (a mail with headers) or "diff"
    subject: str  # "" for a plain diff
    body: str  # the commit message below the subject (or a plain diff's leading description)
    author_name: str | None
    author_email: str | None
    author_date: str | None  # git's raw form "<unix seconds> <+hhmm>"
    diff: str  # the diff part alone, byte-exact (surrogateescape), as `git apply` is given it
    files: tuple[FilePatch, ...]

    @property
    def has_index(self) -> bool:
        """Every file the patch changes names its preimage blob (created files need none)."""
        return all(f.old_blob is not None or f.old_path is None for f in self.files)


def read_patch(path: Path) -> PatchFile:
    """Read and check one patch file; raises `PatchFormatError` with a one-line reason."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PatchFormatError("no such file") from None
    except IsADirectoryError:
        raise PatchFormatError("is a directory, not a patch file") from None
    except OSError as exc:
        raise PatchFormatError(f"cannot read: {exc.strerror}") from None
    if _count_mails(data) > 1:
        raise PatchFormatError("holds several mails (a series); give each patch its own file and entry")
    headers, message, diff = split_mail(data)
    if not diff.strip():
        raise PatchFormatError("no diff found in it (expected a git format-patch mail or a unified diff)")
    files = _parse_diff(diff)
    _git_accepts(diff)
    subject = headers.get("Subject", "").strip()
    kind = "format-patch" if (subject or headers.get("Author") or _MBOX_FROM.match(_first_line(data))) else "diff"
    return PatchFile(
        path=path, sha256=hashlib.sha256(data).hexdigest(), kind=kind, subject=subject,
        body=message.strip("\n"), author_name=headers.get("Author") or None,
        author_email=headers.get("Email") or None, author_date=_git_date(headers.get("Date")),
        diff=diff, files=files,
    )


def _first_line(data: bytes) -> str:
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")


def _count_mails(data: bytes) -> int:
    return sum(1 for line in data.split(b"\n") if _MBOX_FROM.match(line.decode("utf-8", "replace")))


def split_mail(data: bytes) -> tuple[dict[str, str], str, str]:
    """(headers, commit message body, diff) as `git am` would see them."""
    with tempfile.TemporaryDirectory(prefix="stacker-patch-") as tmp:
        msg, patch = Path(tmp, "msg"), Path(tmp, "patch")
        done = subprocess.run(["git", "mailinfo", "-u", str(msg), str(patch)], input=data,
                              capture_output=True, cwd=tmp)
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise PatchFormatError(f"git mailinfo cannot read it: {reason[-1] if reason else 'exit ' + str(done.returncode)}")
        headers: dict[str, str] = {}
        for line in done.stdout.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(": ")
            if key:
                headers[key] = value
        return (headers, msg.read_bytes().decode("utf-8", "surrogateescape"),
                patch.read_bytes().decode("utf-8", "surrogateescape"))


def _parse_diff(diff: str) -> tuple[FilePatch, ...]:
    try:
        patch_set = PatchSet(diff)
    except UnidiffParseError as exc:
        raise PatchFormatError(f"not a valid unified diff: {exc}") from None
    if not len(patch_set):
        raise PatchFormatError("no file changes found in its diff")
    files = []
    for patched in patch_set:
        old_blob = None
        for line in patched.patch_info or []:
            match = _INDEX.match(line.rstrip("\n"))
            if match and not _ZERO.match(match.group(1)):
                old_blob = match.group(1)
        old_path = None if patched.is_added_file else _strip_prefix(patched.source_file)
        new_path = None if patched.is_removed_file else _strip_prefix(patched.target_file)
        files.append(FilePatch(old_path=old_path, new_path=new_path, old_blob=old_blob,
                               old_mode=patched.source_mode, binary=patched.is_binary_file))
    return tuple(files)


def _strip_prefix(name: str) -> str:
    """git apply's default -p1: drop the first path component (a/, b/, or a plain diff's dir)."""
    return name.split("/", 1)[1] if "/" in name else name


def _git_accepts(diff: str) -> None:
    """`git apply --numstat` parses without applying: the same parser that applies it later."""
    done = subprocess.run(["git", "apply", "--numstat", "-"], input=diff.encode("utf-8", "surrogateescape"),
                          capture_output=True, cwd=tempfile.gettempdir())
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PatchFormatError(f"git apply rejects it: {lines[-1].removeprefix('error: ') if lines else 'unknown error'}")


def _git_date(value: str | None) -> str | None:
    """RFC 2822 date of the mail → git's raw "<seconds> <+hhmm>"; None when absent or unreadable."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    offset = when.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"{int(when.timestamp())} {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
