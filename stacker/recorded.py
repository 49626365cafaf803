"""Recorded resolutions: a human's resolution of a conflict hunk, replayed when the hunk recurs.

Like `git rerere`, a hunk is identified by its two sides with the markers and the base section
dropped, sorted (so the same conflict met from either direction matches), then hashed. Unlike
rerere's cache, recordings are JSON files in the stack's `resolutions/recorded/`, reviewed and
committed with the stack and shared with CI. They carry the file and enclosing qualified name so
a reader knows what they are about, and so a replay can prefer the same file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stacker.errors import ConfigError
from stacker.filemerge import LayerAction, LayerOutcome, agree
from stacker.linemerge import Conflict, MergedText
from stacker.pysource import enclosing_qualname


def conflict_key(hunk: Conflict) -> str:
    sides = sorted([hunk.ours, hunk.theirs])
    digest = hashlib.sha256()
    for side in sides:
        digest.update(side.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Recording:
    key: str
    path: str
    qualname: str
    sides: tuple[str, str]
    resolution: str
    note: str = ""

    def filename(self) -> str:
        return f"{self.key[:16]}.json"


@dataclass
class RecordedStore:
    """The recordings of one stack; tracks which ones a build used."""

    directory: Path | None
    recordings: dict[str, list[Recording]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, directory: Path | None) -> RecordedStore:
        store = cls(directory)
        if directory is None or not directory.is_dir():
            return store
        for file in sorted(directory.glob("*.json")):
            try:
                raw = json.loads(file.read_text(encoding="utf-8"))
                recording = Recording(key=raw["key"], path=raw["path"], qualname=raw.get("qualname", ""),
                                      sides=tuple(raw["sides"]), resolution=raw["resolution"],
                                      note=raw.get("note", ""))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"{file}: not a stacker recording ({exc})") from None
            store.recordings.setdefault(recording.key, []).append(recording)
        return store

    def lookup(self, hunk: Conflict, path: str) -> Recording | None:
        candidates = self.recordings.get(conflict_key(hunk), [])
        same_file = [r for r in candidates if r.path == path]
        chosen = (same_file or candidates or [None])[0]
        if chosen is not None:
            self.used.add(chosen.key)
        return chosen

    def stale(self) -> list[Recording]:
        return [r for rs in self.recordings.values() for r in rs if r.key not in self.used]

    def record(self, hunk: Conflict, path: str, qualname: str, resolution: str, note: str = "") -> Recording:
        if self.directory is None:
            raise ConfigError("the stack has no resolutions directory to record into")
        sides = tuple(sorted([hunk.ours, hunk.theirs]))
        recording = Recording(key=conflict_key(hunk), path=path, qualname=qualname, sides=sides,
                              resolution=resolution, note=note)
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / recording.filename()
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(recording), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(target)
        self.recordings[recording.key] = [recording]
        return recording


@dataclass
class RecordedLayer:
    store: RecordedStore
    name: str = "recorded"

    def resolve(self, path: str, merged: MergedText) -> LayerOutcome | None:
        resolved: dict[int, str] = {}
        actions: list[LayerAction] = []
        ours_view = None
        for index, (start, end) in merged.conflict_spans("ours"):
            hunk = merged.segments[index]
            assert isinstance(hunk, Conflict)
            recording = self.store.lookup(hunk, path)
            if recording is None:
                continue
            resolved[index] = recording.resolution
            ours_view = ours_view if ours_view is not None else merged.view("ours")
            where = enclosing_qualname(ours_view, start + 1, max(start + 1, end)) or recording.qualname
            actions.append(LayerAction(layer=self.name, path=path, location=where or f"line {start + 1}",
                                       detail=f"recorded resolution {recording.key[:12]}",
                                       hunks=(hunk,), result=recording.resolution,
                                       resolution_id=recording.key[:12]))
        if not resolved:
            return None
        return LayerOutcome(views=agree(merged, resolved), actions=tuple(actions))
