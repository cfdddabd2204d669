"""How a part leaves the runner: read as views of itself, sent by `PartPayload` from memory.

aiobotocore hands a stream body to aiohttp wrapped in a `wrapt.ObjectProxy`; aiohttp
picks the payload class by `isinstance`, which the proxy passes through, so the tests
ask aiohttp's registry the same way. Uploads themselves run against a real S3 endpoint
in test_roundtrip.py and test_faults.py.
"""

from __future__ import annotations

import wrapt
from aiohttp.payload import get_payload

from odoo_operator.runner.s3 import SEND_CHUNK, PartBody, PartPayload


class RecordingWriter:
    def __init__(self) -> None:
        self.chunks: list[memoryview] = []

    async def write(self, chunk: memoryview) -> None:
        self.chunks.append(chunk)


def test_a_part_is_read_as_views_of_itself_never_copies() -> None:
    part = bytearray(b"0123456789")
    body = PartBody(part)
    first = body.read(4)
    assert first.obj is part
    assert bytes(first) == b"0123"
    assert bytes(body.read()) == b"456789"
    assert body.read(4) == b""  # the end, as botocore's hashing loop expects it
    assert body.seek(2) == 2
    assert bytes(body.read(3)) == b"234"


async def test_aiohttp_sends_a_part_from_memory_in_chunks_of_its_own() -> None:
    part = bytearray(bytes(range(256)) * ((SEND_CHUNK * 2 + 1000) // 256))
    body = PartBody(part)
    body.seek(SEND_CHUNK // 2)  # botocore sends from where the body stands
    payload = get_payload(wrapt.ObjectProxy(body))
    assert isinstance(payload, PartPayload)  # not aiohttp's thread-pool stream reader
    assert payload.size == len(part) - SEND_CHUNK // 2

    writer = RecordingWriter()
    await payload.write_with_length(writer, None)  # type: ignore[arg-type]
    assert b"".join(writer.chunks) == part[SEND_CHUNK // 2 :]
    assert all(chunk.obj is part for chunk in writer.chunks)  # views, not copies
    assert max(len(chunk) for chunk in writer.chunks) == SEND_CHUNK

    body.seek(0)
    limited = RecordingWriter()
    await get_payload(body).write_with_length(limited, 1000)  # type: ignore[arg-type]
    assert b"".join(limited.chunks) == part[:1000]
