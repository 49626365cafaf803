"""A built wheel rewritten into the bundle's wheel: its version set, its bytes the same every time.

Build backends differ in how a version reaches them (a static `version =`, `attr:`, setuptools-scm)
and in how reproducible their archives are. Rather than teach stacker every backend, the wheel the
backend built is rewritten: the `.dist-info` (and `.data`) directory renamed and METADATA's
`Version:` set to the bundle's version, RECORD recomputed, and the archive written with a fixed
entry order (payload sorted, `.dist-info` last, RECORD last of all as the wheel spec recommends),
one timestamp (SOURCE_DATE_EPOCH of the bundle head), fixed permissions (0644, or 0755 for
executables) and fixed compression. Same input files → same wheel bytes, whatever the umask or
the clock said during the build. File contents other than METADATA and RECORD are untouched.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import stat
import time
import zipfile
from pathlib import Path

from stacker.errors import BuildStopped

_ZIP_EPOCH = 315532800  # 1980-01-01: the earliest time a zip entry can hold


def repack_wheel(built: Path, out_dir: Path, version: str, timestamp: int) -> Path:
    """Write `built` as `<dist>-<version>-<tags>.whl` into `out_dir`; returns the new wheel's path."""
    parts = built.name[:-len(".whl")].split("-")
    if len(parts) not in (5, 6):
        raise BuildStopped(f"{built.name}: not a wheel file name (dist-version[-build]-python-abi-platform.whl)")
    dist, tags = parts[0], parts[-3:]
    build_tag = parts[2:3] if len(parts) == 6 else []
    with zipfile.ZipFile(built) as zin:
        entries = {info.filename: (zin.read(info), info.external_attr >> 16)
                   for info in zin.infolist() if not info.is_dir()}
    infos = sorted({n.split("/", 1)[0] for n in entries if n.split("/", 1)[0].endswith(".dist-info")})
    if len(infos) != 1 or f"{infos[0]}/METADATA" not in entries:
        raise BuildStopped(f"{built.name}: expected one .dist-info directory with a METADATA file, found {infos}")
    old_info, old_data = infos[0], infos[0][:-len(".dist-info")] + ".data"
    new_info, new_data = f"{dist}-{version}.dist-info", f"{dist}-{version}.data"
    renamed: dict[str, tuple[bytes, int]] = {}
    for name, (data, mode) in entries.items():
        top, _, rest = name.partition("/")
        if top == old_info:
            name = f"{new_info}/{rest}"
        elif top == old_data:
            name = f"{new_data}/{rest}"
        renamed[name] = (data, mode)
    metadata, mode = renamed[f"{new_info}/METADATA"]
    renamed[f"{new_info}/METADATA"] = (_with_version(metadata, version, built.name), mode)
    record = f"{new_info}/RECORD"
    renamed.pop(record, None)
    for signature in ("RECORD.jws", "RECORD.p7s"):  # a signature of the old RECORD would be a lie now
        renamed.pop(f"{new_info}/{signature}", None)

    payload = sorted(n for n in renamed if not n.startswith(new_info + "/"))
    metadata_files = sorted(n for n in renamed if n.startswith(new_info + "/"))
    order = payload + metadata_files
    renamed[record] = (_record(renamed, order, record), 0o644)
    order.append(record)

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ("-".join([dist, version, *build_tag, *tags]) + ".whl")
    date_time = time.gmtime(max(timestamp, _ZIP_EPOCH))[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zout:
        for name in order:
            data, mode = renamed[name]
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.create_system = 3  # unix, so the permission bits below are honoured
            info.external_attr = (stat.S_IFREG | (0o755 if mode & 0o111 else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data, compresslevel=9)
    target.write_bytes(buffer.getvalue())
    return target


def _with_version(metadata: bytes, version: str, wheel: str) -> bytes:
    """METADATA with its `Version:` header replaced (headers end at the first empty line)."""
    head, sep, body = metadata.partition(b"\n\n")
    lines = head.split(b"\n")
    hits = [i for i, line in enumerate(lines) if re.match(rb"^Version:", line)]
    if len(hits) != 1:
        raise BuildStopped(f"{wheel}: METADATA has {len(hits)} 'Version:' headers, expected one")
    lines[hits[0]] = b"Version: " + version.encode("ascii")
    return b"\n".join(lines) + sep + body


def _record(files: dict[str, tuple[bytes, int]], order: list[str], record: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for name in order:
        data = files[name][0]
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
        writer.writerow([name, f"sha256={digest}", len(data)])
    writer.writerow([record, "", ""])
    return out.getvalue().encode("utf-8")
