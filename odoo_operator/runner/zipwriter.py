"""A zip archive written front to back into a byte sink, for uploads that cannot seek.

Guarantees:
- Output is a valid zip64 archive (APPNOTE 6.3): Python's `zipfile` (what Odoo's
  database manager uses to restore) and Info-ZIP `unzip` read it, whatever the sizes.
- A deflated entry is followed by a data descriptor (sizes and CRC are known only after
  the data went out); a reader finds its end from the deflate stream alone. A stored
  entry (`add_stored`, for data that deflate would not shrink) is written with its CRC and
  sizes in its header, given in advance and checked as the data goes out. So the archive
  can also be read front to back (`zipreader`).
- Memory stays constant whatever the number of entries: the central directory is
  spooled to a temporary file (in memory up to 1 MiB) until the archive is closed.
"""

from __future__ import annotations

import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType

# Signatures and record layouts from PKWARE's APPNOTE.TXT.
LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
LOCAL_HEADER_SIGNATURE = 0x04034B50
DATA_DESCRIPTOR_64 = struct.Struct("<IIQQ")
DATA_DESCRIPTOR_SIGNATURE = 0x08074B50
CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
CENTRAL_HEADER_SIGNATURE = 0x02014B50
ZIP64_END = struct.Struct("<IQHHIIQQQQ")
ZIP64_END_SIGNATURE = 0x06064B50
ZIP64_LOCATOR = struct.Struct("<IIQI")
ZIP64_LOCATOR_SIGNATURE = 0x07064B50
END_OF_CENTRAL_DIRECTORY = struct.Struct("<IHHHHIIH")
END_SIGNATURE = 0x06054B50
ZIP64_EXTRA_TAG = 0x0001

VERSION_ZIP64 = 45
MADE_BY_UNIX = 3 << 8
FLAG_DATA_DESCRIPTOR = 0x0008
FLAG_UTF8_NAME = 0x0800
METHOD_STORED = 0
METHOD_DEFLATED = 8
MAX32 = 0xFFFFFFFF
MAX16 = 0xFFFF
REGULAR_FILE_MODE = 0o100644

_CENTRAL_DIRECTORY_IN_MEMORY = 1 << 20


def dos_time(timestamp: float) -> tuple[int, int]:
    """(time, date) in MS-DOS format, local time as `zipfile` writes it; clamped to 1980."""
    t = time.localtime(max(timestamp, 315532800.0))  # 1980-01-01, the format's epoch
    year = max(t.tm_year, 1980)
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), (
        ((year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    )


@dataclass(frozen=True)
class _OpenEntry:
    name: bytes
    flags: int
    method: int
    when: int
    day: int
    mode: int
    offset: int


class ZipEntryWriter:
    """One entry being written; use as a context manager, `write` data, then it closes."""

    def __init__(self, archive: ZipStreamWriter) -> None:
        self._archive = archive
        self._compressor = zlib.compressobj(archive.level, zlib.DEFLATED, -15)
        self._crc = 0
        self.size = 0
        self.compressed_size = 0

    def write(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self.size += len(data)
        self._emit(self._compressor.compress(data))

    def _emit(self, data: bytes) -> None:
        if data:
            self.compressed_size += len(data)
            self._archive.emit(data)

    def __enter__(self) -> ZipEntryWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self._emit(self._compressor.flush())
            self._archive.finish_entry(self._crc, self.compressed_size, self.size)


class ZipStreamWriter:
    """Writes entries one after the other to `sink`; `close()` writes the directory."""

    def __init__(self, sink: Callable[[bytes], None], level: int = 1) -> None:
        self._sink = sink
        self.level = level
        self.offset = 0
        self.entries = 0
        # Closed by close() or discard().
        self._directory = tempfile.SpooledTemporaryFile(_CENTRAL_DIRECTORY_IN_MEMORY)  # noqa: SIM115
        self._open: _OpenEntry | None = None

    def emit(self, data: bytes) -> None:
        self._sink(data)
        self.offset += len(data)

    def entry(
        self, name: str, mtime: float | None = None, mode: int = REGULAR_FILE_MODE
    ) -> ZipEntryWriter:
        """A deflated entry: `write` into it, and leave the `with` block to finish it."""
        flags = FLAG_DATA_DESCRIPTOR | (0 if name.isascii() else FLAG_UTF8_NAME)
        self._start(name, mtime, mode, flags=flags, method=METHOD_DEFLATED)
        return ZipEntryWriter(self)

    def add_stored(
        self,
        name: str,
        chunks: Iterable[bytes],
        *,
        crc: int,
        size: int,
        mtime: float | None = None,
        mode: int = REGULAR_FILE_MODE,
    ) -> None:
        """A stored (uncompressed) entry of `size` bytes and CRC-32 `crc`, known in advance.

        Raises ValueError if `chunks` do not add up to them: the archive is then unusable.
        """
        flags = 0 if name.isascii() else FLAG_UTF8_NAME
        self._start(name, mtime, mode, flags=flags, method=METHOD_STORED, crc=crc, size=size)
        written, check = 0, 0
        for chunk in chunks:
            written += len(chunk)
            check = zlib.crc32(chunk, check)
            self.emit(chunk)
        if (written, check) != (size, crc):
            raise ValueError(f"zip entry {name!r} changed while it was being written")
        self._finish(crc, size, size)

    def _start(
        self,
        name: str,
        mtime: float | None,
        mode: int,
        *,
        flags: int,
        method: int,
        crc: int = 0,
        size: int = 0,
    ) -> None:
        if self._open is not None:
            raise RuntimeError("the previous zip entry is still open")
        encoded = name.encode("utf-8")
        when, day = dos_time(time.time() if mtime is None else mtime)
        extra = struct.pack("<HHQQ", ZIP64_EXTRA_TAG, 16, size, size)
        header = LOCAL_HEADER.pack(
            LOCAL_HEADER_SIGNATURE,
            VERSION_ZIP64,
            flags,
            method,
            when,
            day,
            crc,
            MAX32,
            MAX32,
            len(encoded),
            len(extra),
        )
        self._open = _OpenEntry(encoded, flags, method, when, day, mode, self.offset)
        self.emit(header + encoded + extra)

    def finish_entry(self, crc: int, compressed_size: int, size: int) -> None:
        """End the open deflated entry with its data descriptor."""
        self.emit(DATA_DESCRIPTOR_64.pack(DATA_DESCRIPTOR_SIGNATURE, crc, compressed_size, size))
        self._finish(crc, compressed_size, size)

    def _finish(self, crc: int, compressed_size: int, size: int) -> None:
        if self._open is None:
            raise RuntimeError("no zip entry is open")
        entry, self._open = self._open, None
        extra = struct.pack("<HHQQQ", ZIP64_EXTRA_TAG, 24, size, compressed_size, entry.offset)
        self._directory.write(
            CENTRAL_HEADER.pack(
                CENTRAL_HEADER_SIGNATURE,
                MADE_BY_UNIX | VERSION_ZIP64,
                VERSION_ZIP64,
                entry.flags,
                entry.method,
                entry.when,
                entry.day,
                crc,
                MAX32,
                MAX32,
                len(entry.name),
                len(extra),
                0,
                0,
                0,
                (entry.mode & 0xFFFF) << 16,
                MAX32,
            )
            + entry.name
            + extra
        )
        self.entries += 1

    def close(self) -> None:
        """Write the central directory and the end records; the archive is complete."""
        if self._open is not None:
            raise RuntimeError("a zip entry is still open")
        directory_offset = self.offset
        self._directory.seek(0)
        while chunk := self._directory.read(1 << 16):
            self.emit(chunk)
        self._directory.close()
        directory_size = self.offset - directory_offset
        zip64_end_offset = self.offset
        self.emit(
            ZIP64_END.pack(
                ZIP64_END_SIGNATURE,
                ZIP64_END.size - 12,
                MADE_BY_UNIX | VERSION_ZIP64,
                VERSION_ZIP64,
                0,
                0,
                self.entries,
                self.entries,
                directory_size,
                directory_offset,
            )
        )
        self.emit(ZIP64_LOCATOR.pack(ZIP64_LOCATOR_SIGNATURE, 0, zip64_end_offset, 1))
        self.emit(
            END_OF_CENTRAL_DIRECTORY.pack(
                END_SIGNATURE,
                0,
                0,
                min(self.entries, MAX16),
                min(self.entries, MAX16),
                min(directory_size, MAX32),
                min(directory_offset, MAX32),
                0,
            )
        )

    def discard(self) -> None:
        """Release the spooled directory of an archive that will not be completed."""
        self._directory.close()
