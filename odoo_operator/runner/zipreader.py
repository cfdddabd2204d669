"""Read a zip archive front to back from a stream that cannot seek (a download).

Guarantees:
- Reads archives written with known sizes (Python's `zipfile` on a file, as Odoo's
  `dump_db` does) and with data descriptors (`zipwriter`, any streaming writer), stored
  or deflated, zip64 or not.
- Every entry's CRC-32 and sizes are checked when its data ends; then the central
  directory and the end records are read and checked against the entries seen, and the
  stream must end right after them. A truncated or corrupt archive raises `JobError`;
  the caller must treat everything it got as void until `finish()` returned.
- Memory is bounded whatever the entry sizes: data is handed out in chunks of at most
  `CHUNK` bytes (a zip bomb cannot inflate in memory).
- Encrypted entries, other compression methods and stored entries of unknown size are
  refused with a clear message.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from odoo_operator.runner.errors import JobError
from odoo_operator.runner.zipwriter import (
    CENTRAL_HEADER,
    CENTRAL_HEADER_SIGNATURE,
    DATA_DESCRIPTOR_SIGNATURE,
    END_OF_CENTRAL_DIRECTORY,
    END_SIGNATURE,
    FLAG_DATA_DESCRIPTOR,
    FLAG_UTF8_NAME,
    LOCAL_HEADER,
    LOCAL_HEADER_SIGNATURE,
    MAX16,
    MAX32,
    METHOD_DEFLATED,
    METHOD_STORED,
    ZIP64_END,
    ZIP64_END_SIGNATURE,
    ZIP64_EXTRA_TAG,
    ZIP64_LOCATOR,
    ZIP64_LOCATOR_SIGNATURE,
)

CHUNK = 1 << 20
_FLAG_ENCRYPTED = 0x0001
_SIGNATURE = struct.Struct("<I")


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def _corrupt(detail: str) -> JobError:
    return JobError(f"the zip archive is truncated or corrupt: {detail}")


class _Input:
    """Exact reads over a stream, with push-back for bytes read too far."""

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self._pushed = b""
        self.position = 0

    def read_some(self, limit: int) -> bytes:
        if self._pushed:
            data, self._pushed = self._pushed[:limit], self._pushed[limit:]
        else:
            data = self._stream.read(limit)
        self.position += len(data)
        return data

    def read_exact(self, size: int, what: str) -> bytes:
        parts, missing = [], size
        while missing:
            data = self.read_some(missing)
            if not data:
                raise _corrupt(f"the stream ended in {what}")
            parts.append(data)
            missing -= len(data)
        return b"".join(parts)

    def unread(self, data: bytes) -> None:
        self._pushed = data + self._pushed
        self.position -= len(data)


def _zip64_sizes(extra: bytes) -> list[int] | None:
    """The 8-byte values of the zip64 extra field, or None if there is none."""
    offset = 0
    while offset + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, offset)
        if tag == ZIP64_EXTRA_TAG:
            body = extra[offset + 4 : offset + 4 + length]
            return [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
        offset += 4 + length
    return None


def _decode_name(raw: bytes, flags: int) -> str:
    return raw.decode("utf-8" if flags & FLAG_UTF8_NAME else "cp437", "replace")


@dataclass
class _Counts:
    crc: int = 0
    produced: int = 0
    consumed: int = 0

    def add(self, data: bytes) -> None:
        self.crc = zlib.crc32(data, self.crc)
        self.produced += len(data)


@dataclass
class ZipEntry:
    """An entry being read; iterate `chunks()` once, fully, before asking for the next."""

    name: str
    method: int
    flags: int
    crc: int
    compressed_size: int | None  # None: given by the data descriptor
    size: int | None
    zip64: bool
    _input: _Input

    def chunks(self) -> Iterator[bytes]:
        """The entry's data; its CRC and sizes are checked when the iteration ends."""
        counts = _Counts()
        if self.method == METHOD_STORED:
            yield from self._stored(counts)
        else:
            yield from self._deflated(counts)
        self._check(counts)

    def _stored(self, counts: _Counts) -> Iterator[bytes]:
        assert self.compressed_size is not None
        remaining = self.compressed_size
        while remaining:
            data = self._input.read_some(min(remaining, CHUNK))
            if not data:
                raise _corrupt(f"the stream ended inside {self.name!r}")
            remaining -= len(data)
            counts.consumed += len(data)
            counts.add(data)
            yield data

    def _deflated(self, counts: _Counts) -> Iterator[bytes]:
        inflater = zlib.decompressobj(-15)
        remaining = self.compressed_size  # None: the deflate stream's end tells
        while not inflater.eof:
            limit = CHUNK if remaining is None else min(remaining, CHUNK)
            data = self._input.read_some(limit) if limit else b""
            if not data:
                raise _corrupt(f"the stream ended inside {self.name!r}")
            if remaining is not None:
                remaining -= len(data)
            pending = data
            while pending and not inflater.eof:
                try:
                    out = inflater.decompress(pending, CHUNK)
                except zlib.error as error:
                    raise _corrupt(f"bad deflate data in {self.name!r} ({error})") from None
                pending = inflater.unconsumed_tail
                if out:
                    counts.add(out)
                    yield out
            # At the end of the deflate stream zlib reports the bytes past it in
            # `unused_data` (the unconsumed tail then holds the same bytes again).
            leftover = inflater.unused_data if inflater.eof else b""
            counts.consumed += len(data) - len(leftover)
            if leftover:
                self._input.unread(leftover)
                if remaining is not None:
                    remaining += len(leftover)
        if remaining:
            self._input.read_exact(remaining, f"the padding of {self.name!r}")
            counts.consumed += remaining

    def _check(self, counts: _Counts) -> None:
        expected_crc, expected_compressed, expected_size = (
            self.crc,
            self.compressed_size,
            self.size,
        )
        if self.flags & FLAG_DATA_DESCRIPTOR:
            head = self._input.read_exact(4, f"the data descriptor of {self.name!r}")
            if _SIGNATURE.unpack(head)[0] != DATA_DESCRIPTOR_SIGNATURE:
                self._input.unread(head)
            fmt = "<IQQ" if self.zip64 else "<III"
            descriptor = self._input.read_exact(
                struct.calcsize(fmt), f"the data descriptor of {self.name!r}"
            )
            expected_crc, expected_compressed, expected_size = struct.unpack(fmt, descriptor)
        if counts.crc != expected_crc:
            raise _corrupt(f"CRC mismatch in {self.name!r}")
        if counts.produced != expected_size or counts.consumed != expected_compressed:
            raise _corrupt(f"size mismatch in {self.name!r}")


class ZipStreamReader:
    """`entries()` yields each entry in stream order; then `finish()` checks the rest."""

    def __init__(self, stream: Readable) -> None:
        self._input = _Input(stream)
        self._entries = 0
        self._next_signature: int | None = None

    def entries(self) -> Iterator[ZipEntry]:
        while True:
            signature = _SIGNATURE.unpack(self._input.read_exact(4, "an entry header"))[0]
            if signature != LOCAL_HEADER_SIGNATURE:
                self._next_signature = signature
                return
            yield self._local_entry()
            self._entries += 1

    def _local_entry(self) -> ZipEntry:
        fields = LOCAL_HEADER.unpack(
            _SIGNATURE.pack(LOCAL_HEADER_SIGNATURE)
            + self._input.read_exact(LOCAL_HEADER.size - 4, "an entry header")
        )
        _, _, flags, method, _, _, crc, compressed, size, name_length, extra_length = fields
        raw_name = self._input.read_exact(name_length, "an entry name")
        extra = self._input.read_exact(extra_length, "an entry header")
        name = _decode_name(raw_name, flags)
        if flags & _FLAG_ENCRYPTED:
            raise JobError(f"the zip entry {name!r} is encrypted; encrypted archives are refused")
        if method not in (METHOD_STORED, METHOD_DEFLATED):
            raise JobError(
                f"the zip entry {name!r} uses compression method {method}; "
                "only stored and deflated entries are supported"
            )
        zip64 = _zip64_sizes(extra)
        if zip64 is not None and MAX32 in (compressed, size):
            if len(zip64) < 2:
                raise _corrupt(f"incomplete zip64 sizes for {name!r}")
            size, compressed = zip64[0], zip64[1]
        described = bool(flags & FLAG_DATA_DESCRIPTOR)
        if described and method == METHOD_STORED:
            raise JobError(
                f"the zip entry {name!r} is stored with unknown size and cannot be read "
                "as a stream; recompress the archive (e.g. `zip -r`)"
            )
        return ZipEntry(
            name=name,
            method=method,
            flags=flags,
            crc=crc,
            compressed_size=None if described else compressed,
            size=None if described else size,
            zip64=zip64 is not None,
            _input=self._input,
        )

    def finish(self) -> None:
        """Read and check the central directory and end records up to the stream's end."""
        signature = self._next_signature
        listed = 0
        while signature == CENTRAL_HEADER_SIGNATURE:
            fields = CENTRAL_HEADER.unpack(
                _SIGNATURE.pack(signature)
                + self._input.read_exact(CENTRAL_HEADER.size - 4, "the central directory")
            )
            name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
            self._input.read_exact(
                name_length + extra_length + comment_length, "the central directory"
            )
            listed += 1
            signature = self._signature("the central directory")
        total = None
        if signature == ZIP64_END_SIGNATURE:
            fields = ZIP64_END.unpack(
                _SIGNATURE.pack(signature)
                + self._input.read_exact(ZIP64_END.size - 4, "the zip64 end record")
            )
            total = fields[7]
            self._input.read_exact(fields[1] - (ZIP64_END.size - 12), "the zip64 end record")
            signature = self._signature("the zip64 end locator")
            if signature != ZIP64_LOCATOR_SIGNATURE:
                raise _corrupt("the zip64 end locator is missing")
            self._input.read_exact(ZIP64_LOCATOR.size - 4, "the zip64 end locator")
            signature = self._signature("the end record")
        if signature != END_SIGNATURE:
            raise _corrupt("the end of central directory record is missing")
        fields = END_OF_CENTRAL_DIRECTORY.unpack(
            _SIGNATURE.pack(signature)
            + self._input.read_exact(END_OF_CENTRAL_DIRECTORY.size - 4, "the end record")
        )
        if total is None or fields[4] != MAX16:
            total = fields[4] if total is None else total
        self._input.read_exact(fields[7], "the archive comment")
        if self._input.read_some(1):
            raise _corrupt("unexpected data after the end record")
        if not listed == total == self._entries:
            raise _corrupt(
                f"{self._entries} entries in the stream, {listed} in the central directory, "
                f"{total} in the end record"
            )

    def _signature(self, what: str) -> int:
        value: int = _SIGNATURE.unpack(self._input.read_exact(4, what))[0]
        return value
