"""The streaming zip writer and reader: valid for standard readers, strict about damage."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odoo_operator.runner.backup import worth_deflating
from odoo_operator.runner.errors import JobError
from odoo_operator.runner.zipreader import CHUNK, ZipStreamReader
from odoo_operator.runner.zipwriter import ZipStreamWriter

ENTRIES = {
    "dump.sql": b"COPY t FROM stdin;\n" + b"1\tabc\n" * 200_000,
    "manifest.json": b'{"odoo_dump": "1"}',
    "filestore/ab/ab12cd": os.urandom(300_000),
    "filestore/empty": b"",
    "filestore/ünïcode name.bin": b"\x00\xff" * 10,
}


STORED = {"filestore/ab/ab12cd"}  # as the backup stores what deflate would not shrink


def chunked(data: bytes) -> list[bytes]:
    return [data[start : start + 65536] for start in range(0, len(data), 65536)]


def write_archive(entries: dict[str, bytes], level: int = 1) -> bytes:
    out = io.BytesIO()
    archive = ZipStreamWriter(out.write, level)
    for name, data in entries.items():
        if name in STORED:
            crc = zlib.crc32(data)
            archive.add_stored(name, chunked(data), crc=crc, size=len(data), mtime=1.7e9)
            continue
        with archive.entry(name, mtime=1_700_000_000.0) as entry:
            for chunk in chunked(data):
                entry.write(chunk)
    archive.close()
    return out.getvalue()


def read_archive(data: bytes, step: int | None = None) -> dict[str, bytes]:
    class Trickle(io.RawIOBase):
        """Hands out at most `step` bytes per read, as a network stream does."""

        def __init__(self) -> None:
            self.position = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            size = min(len(buffer), step or len(buffer), len(data) - self.position)
            buffer[:size] = data[self.position : self.position + size]
            self.position += size
            return size

    reader = ZipStreamReader(io.BufferedReader(Trickle(), 8192))
    found = {}
    for entry in reader.entries():
        found[entry.name] = b"".join(entry.chunks())
    reader.finish()
    return found


class Unseekable:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def flush(self) -> None:
        pass


def test_python_zipfile_reads_our_archives_as_odoo_restore_does(tmp_path: Path) -> None:
    data = write_archive(ENTRIES)
    path = tmp_path / "backup.zip"
    path.write_bytes(data)
    assert zipfile.is_zipfile(path)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == list(ENTRIES)
        members = [n for n in archive.namelist() if n.startswith("filestore/")]
        archive.extractall(tmp_path / "out", ["dump.sql", *members])
    for name, content in ENTRIES.items():
        if name != "manifest.json":
            assert (tmp_path / "out" / name).read_bytes() == content


def test_unzip_tests_our_archives_clean(tmp_path: Path) -> None:
    path = tmp_path / "backup.zip"
    path.write_bytes(write_archive(ENTRIES))
    result = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors detected" in result.stdout


@pytest.mark.parametrize("step", [None, 1, 7, 4096])
def test_reader_reads_our_archives_in_any_chunking(step: int | None) -> None:
    entries = ENTRIES if step != 1 else {"a": b"x" * 3000, "b": b""}
    assert read_archive(write_archive(entries), step) == entries


def test_reader_reads_zipfile_archives_with_known_sizes_stored_and_deflated() -> None:
    """What Odoo's dump_db writes: a seekable zipfile, sizes in the local headers."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        archive.writestr("dump.sql", ENTRIES["dump.sql"])
        archive.writestr("stored", b"plain", compress_type=zipfile.ZIP_STORED)
        archive.writestr("filestore/empty", b"")
    assert read_archive(out.getvalue()) == {
        "dump.sql": ENTRIES["dump.sql"],
        "stored": b"plain",
        "filestore/empty": b"",
    }


def test_reader_reads_zipfile_streamed_archives_with_zip64_descriptors() -> None:
    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        with archive.open("big", "w", force_zip64=True) as entry:
            entry.write(b"z" * 5_000_000)
        archive.writestr("small", b"hi")
    assert read_archive(bytes(sink.data)) == {"big": b"z" * 5_000_000, "small": b"hi"}


def test_inflated_data_is_handed_out_in_bounded_chunks() -> None:
    """A highly compressible entry (a zip bomb in small) never inflates at once."""
    reader = ZipStreamReader(io.BytesIO(write_archive({"bomb": b"\0" * (20 * CHUNK)})))
    sizes = [len(chunk) for entry in reader.entries() for chunk in entry.chunks()]
    reader.finish()
    assert sum(sizes) == 20 * CHUNK
    assert max(sizes) <= CHUNK


@settings(max_examples=60)
@given(st.data())
def test_any_truncation_is_detected(data: st.DataObject) -> None:
    archive = write_archive({"dump.sql": b"abc" * 5000, "filestore/x": os.urandom(2000)})
    cut = data.draw(st.integers(min_value=0, max_value=len(archive) - 1))
    with pytest.raises(JobError, match="truncated or corrupt"):
        read_archive(archive[:cut])


@settings(max_examples=60)
@given(st.data())
def test_any_flipped_byte_in_entry_data_is_detected(data: st.DataObject) -> None:
    archive = bytearray(write_archive({"dump.sql": os.urandom(5000)}))
    start = 30 + len("dump.sql") + 20  # past the local header and its zip64 extra field
    end = len(archive) - 24 - 200  # before the data descriptor and directory
    position = data.draw(st.integers(min_value=start, max_value=end))
    archive[position] ^= 0x5A
    with pytest.raises(JobError):
        read_archive(bytes(archive))


def test_trailing_garbage_and_a_missing_directory_are_refused() -> None:
    archive = write_archive({"a": b"1"})
    with pytest.raises(JobError, match="after the end record"):
        read_archive(archive + b"extra")
    directory = archive.index(struct.pack("<I", 0x02014B50))
    with pytest.raises(JobError, match="truncated or corrupt"):
        read_archive(archive[:directory])


def test_encrypted_and_unknown_method_entries_are_refused() -> None:
    def local_header(flags: int, method: int) -> bytes:
        fields = (0x04034B50, 20, flags, method, 0, 0, 0, 1, 1, 1, 0)
        return struct.pack("<IHHHHHIIIHH", *fields) + b"x"

    with pytest.raises(JobError, match="encrypted"):
        read_archive(local_header(1, 8) + b"\0" * 40)
    with pytest.raises(JobError, match="compression method 14"):
        read_archive(local_header(0, 14) + b"\0" * 40)
    with pytest.raises(JobError, match="unknown size"):
        read_archive(local_header(8, 0) + b"\0" * 40)


def test_a_stored_entry_is_stored_and_its_size_and_crc_are_checked() -> None:
    with zipfile.ZipFile(io.BytesIO(write_archive(ENTRIES))) as archive:
        methods = {info.filename: info.compress_type for info in archive.infolist()}
    assert {name for name, method in methods.items() if method == zipfile.ZIP_STORED} == STORED
    archive = ZipStreamWriter(io.BytesIO().write)
    with pytest.raises(ValueError, match="changed while it was being written"):
        archive.add_stored("x", [b"abc", b"d"], crc=zlib.crc32(b"abc"), size=3)


def test_only_data_deflate_shrinks_is_deflated() -> None:
    text = b"INSERT INTO res_partner VALUES (1, 'Azure Interior');\n" * 400
    noise = os.urandom(20_000)
    assert worth_deflating("ab/0123abcd", text)
    assert not worth_deflating("ab/0123abcd", noise)  # Odoo's names carry no extension
    assert not worth_deflating("photo.JPG", text)  # the name says it is compressed already
    assert worth_deflating("ab/tiny", noise[:100])  # too small to probe: deflated anyway
