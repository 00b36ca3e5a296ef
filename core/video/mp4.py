"""Read the ISO-BMFF (MP4/MOV) box structure directly: cheap and exact.

ffmpeg's ``-i`` banner does not say whether ``moov`` precedes ``mdat`` (faststart),
whether the file was cut short, or whether the video track has a variable frame rate;
the boxes do, and reading them costs a few kilobytes of I/O.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Top-level box types that may open an ISO-BMFF file; anything else is another container.
_LEADING = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp", b"uuid"}
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}
_MAX_MOOV = 256 * 1024 * 1024  # refuse to read absurd moov boxes into memory


@dataclass(frozen=True)
class Mp4Layout:
    """What the box structure says about an MP4/MOV file."""

    moov_first: bool
    truncated: str | None
    video_frame_count: int | None = None
    video_duration: float | None = None
    variable_frame_rate: bool = False


def _read_header(fh: BinaryIO, offset: int, end: int) -> tuple[bytes, int, int] | None:
    """(type, header length, box size) of the box at ``offset``; None past the end."""
    fh.seek(offset)
    head = fh.read(8)
    if len(head) < 8:
        return None
    size, kind = struct.unpack(">I4s", head)
    header = 8
    if size == 1:
        large = fh.read(8)
        if len(large) < 8:
            return None
        size = struct.unpack(">Q", large)[0]
        header = 16
    elif size == 0:
        size = end - offset
    return kind, header, size


def _children(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes inside ``data[start:end]``."""
    out = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break
        out.append((kind, pos + header, pos + size))
        pos += size
    return out


def _video_track(moov: bytes) -> tuple[int, int, list[tuple[int, int]]] | None:
    """(timescale, duration, stts entries) of the first video track."""
    for kind, start, end in _children(moov, 0, len(moov)):
        if kind != b"trak":
            continue
        mdia = next((c for c in _children(moov, start, end) if c[0] == b"mdia"), None)
        if mdia is None:
            continue
        boxes = {c[0]: c for c in _children(moov, mdia[1], mdia[2])}
        hdlr, mdhd, minf = boxes.get(b"hdlr"), boxes.get(b"mdhd"), boxes.get(b"minf")
        if not hdlr or not mdhd or not minf or moov[hdlr[1] + 8 : hdlr[1] + 12] != b"vide":
            continue
        version = moov[mdhd[1]]
        if version == 1:
            timescale, duration = struct.unpack_from(">IQ", moov, mdhd[1] + 20)
        else:
            timescale, duration = struct.unpack_from(">II", moov, mdhd[1] + 12)
        stbl = next((c for c in _children(moov, minf[1], minf[2]) if c[0] == b"stbl"), None)
        entries: list[tuple[int, int]] = []
        stts = None
        if stbl is not None:
            stts = next((c for c in _children(moov, stbl[1], stbl[2]) if c[0] == b"stts"), None)
        if stts is not None:
            (count,) = struct.unpack_from(">I", moov, stts[1] + 4)
            count = min(count, (stts[2] - stts[1] - 8) // 8)
            entries = [
                struct.unpack_from(">II", moov, stts[1] + 8 + 8 * i) for i in range(count)
            ]
        return timescale, duration, entries
    return None


def _is_variable(entries: list[tuple[int, int]]) -> bool:
    # The last sample's duration is often odd (muxers guess it), so it does not count.
    deltas = [delta for count, delta in entries if count > 0]
    if len(entries) > 1 and entries[-1][0] == 1:
        deltas = deltas[:-1]
    deltas = [d for d in deltas if d > 0]
    return bool(deltas) and max(deltas) > min(deltas) * 1.02


def inspect(path: str | Path) -> Mp4Layout | None:
    """The layout of an ISO-BMFF file, or None when the file is some other container."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        first = _read_header(fh, 0, size)
        if first is None or first[0] not in _LEADING:
            return None
        moov_at = mdat_at = None
        truncated = None
        moov: bytes | None = None
        offset = 0
        while offset < size:
            box = _read_header(fh, offset, size)
            if box is None:
                truncated = f"a box header at byte {offset} is cut off"
                break
            kind, header, box_size = box
            if box_size < header:
                truncated = f"box '{kind.decode('latin-1')}' at byte {offset} has a bad size"
                break
            if offset + box_size > size:
                truncated = (
                    f"box '{kind.decode('latin-1')}' at byte {offset} declares {box_size} bytes "
                    f"but only {size - offset} remain"
                )
            if kind == b"moov" and moov_at is None:
                moov_at = offset
                if truncated is None and box_size <= _MAX_MOOV:
                    fh.seek(offset + header)
                    moov = fh.read(box_size - header)
            elif kind == b"mdat" and mdat_at is None:
                mdat_at = offset
            if truncated:
                break
            offset += box_size
    moov_first = moov_at is not None and (mdat_at is None or moov_at < mdat_at)
    if moov_at is None and truncated is None:
        truncated = "there is no 'moov' box (the file was probably cut short)"
    track = _video_track(moov) if moov else None
    if track is None:
        return Mp4Layout(moov_first, truncated)
    timescale, duration, entries = track
    frames = sum(count for count, _ in entries) or None
    total = sum(count * delta for count, delta in entries) or duration
    return Mp4Layout(
        moov_first=moov_first,
        truncated=truncated,
        video_frame_count=frames,
        video_duration=total / timescale if timescale else None,
        variable_frame_rate=_is_variable(entries),
    )
