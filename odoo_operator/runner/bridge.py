"""Blocking work in a worker thread, network I/O on the event loop, and the bridges between.

The runner's byte crunching (pipes, zlib, files, the SQL filter) is plain blocking code in
one worker thread; S3 and HTTP run on the event loop. Guarantees:

- `WorkerThread.join()` returns the function's result or raises its exception; after a
  cancelled `join()`, `finished()` still waits for the thread, so cleanup never races a
  running worker.
- `PartSink` (worker side) cuts what is written into parts of `part_size(n)` bytes and
  hands each to an async consumer (loop side). Up to `in_flight` parts upload while the
  next fills, so memory holds at most `in_flight + 1` parts plus one write. A failed
  upload surfaces as the exception of a later `write` or of `close`.
- `BlockingReader` (worker side) reads from an async byte source (loop side).
- `run` (worker side) awaits any coroutine on the loop.
- After `cancel()`, the worker's next call into a bridge, or the one it waits in, raises
  `Cancelled`.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import io
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_POLL = 0.5


class Cancelled(Exception):
    """The job is being stopped; the worker unwinds."""


class _Bridge:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    def _check(self) -> None:
        if self._cancelled.is_set():
            raise Cancelled

    def _wait(self, future: concurrent.futures.Future[T]) -> T:
        while True:
            try:
                return future.result(timeout=_POLL)
            except concurrent.futures.TimeoutError:
                if self._cancelled.is_set():
                    future.cancel()
                    raise Cancelled from None

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Worker side: run `coroutine` on the loop and wait for its result."""
        self._check()
        return self._wait(self._call(coroutine))


class PartSink(_Bridge):
    """A blocking byte sink that feeds an async part consumer, `in_flight` parts at once.

    Each part is filled in place in a buffer of its final size, which is handed over as
    is: no copy of a part is ever made, and the buffer of an uploaded part is filled
    again (fresh memory would be faulted in and zeroed for every part). Parts are
    numbered from 1 in the order written; with `in_flight` parts uploading, the next
    waits for the oldest before it is sent.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        put_part: Callable[[int, bytearray], Awaitable[None]],
        part_size: Callable[[int], int],
        in_flight: int = 1,
    ) -> None:
        super().__init__(loop)
        self._put_part = put_part
        self._part_size = part_size
        self._next_part = 1
        self._part = bytearray(part_size(1))
        self._filled = 0
        self._max_in_flight = in_flight
        self._in_flight: collections.deque[concurrent.futures.Future[bytearray]] = (
            collections.deque()
        )
        self._spare: bytearray | None = None  # an uploaded part's buffer, to fill again
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self._check()
        self.bytes += len(data)
        with memoryview(data) as source:
            offset = 0
            while offset < len(source):
                room = len(self._part) - self._filled
                taken = min(room, len(source) - offset)
                self._part[self._filled : self._filled + taken] = source[offset : offset + taken]
                self._filled += taken
                offset += taken
                if self._filled == len(self._part):
                    self._send(self._part)
                    self._part = self._buffer(self._part_size(self._next_part))
                    self._filled = 0

    def close(self) -> None:
        """Send what is left (an empty last part only if nothing was sent); wait for all."""
        self._check()
        if self._filled or self._next_part == 1:
            del self._part[self._filled :]
            self._send(self._part)
        self._part = bytearray()
        while self._in_flight:
            self._wait(self._in_flight.popleft())

    def _buffer(self, size: int) -> bytearray:
        spare, self._spare = self._spare, None
        return spare if spare is not None and len(spare) == size else bytearray(size)

    def _send(self, part: bytearray) -> None:
        while len(self._in_flight) >= self._max_in_flight:
            self._spare = self._wait(self._in_flight.popleft())  # raises the upload's error
        number = self._next_part

        async def put() -> bytearray:
            await self._put_part(number, part)
            return part

        self._in_flight.append(self._call(put()))
        self._next_part += 1


class BlockingReader(_Bridge, io.RawIOBase):
    """A raw, blocking, read-only stream over `read(size) -> bytes` coroutines."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, read: Callable[[int], Awaitable[bytes]]
    ) -> None:
        _Bridge.__init__(self, loop)
        io.RawIOBase.__init__(self)
        self._read = read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        async def read() -> bytes:
            return await self._read(len(buffer))

        data = self.run(read())
        buffer[: len(data)] = data
        return len(data)


class WorkerThread(Generic[T]):
    """Runs `function` in a thread started now; await `join()` for its outcome."""

    def __init__(self, name: str, function: Callable[[], T]) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        self._function = function
        self._result: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._function()
        except BaseException as error:
            self._error = error
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                self._loop.call_soon_threadsafe(self._done.set)

    async def join(self) -> T:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]

    async def finished(self) -> BaseException | None:
        """Wait for the thread to end, whatever happened; its exception, if any."""
        await self._done.wait()
        return self._error
