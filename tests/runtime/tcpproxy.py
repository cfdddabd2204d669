"""A loopback TCP proxy that can misbehave on demand, to test what clients survive.

- `stall()`: every open connection stops forwarding in both directions, silently
  (sockets stay open, nothing is closed): what a dead NAT entry or a hung peer looks like;
  new connections work normally.
- `cut()`: every open connection is reset at once.
- `refuse = True`: new connections are accepted and reset at once (counted in `attempts`,
  their loop times in `refused_at`).
TLS passes through untouched, so the client still verifies the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"


@dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    running: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            writer.transport.abort()


class TcpProxy:
    def __init__(self, upstream_port: int, upstream_host: str = LOOPBACK) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.refuse = False
        self.attempts = 0
        self.refused_at: list[float] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def stall(self) -> None:
        for connection in self._connections:
            connection.running.clear()

    def cut(self) -> None:
        for connection in list(self._connections):
            connection.abort()
        self._connections.clear()

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts += 1
        if self.refuse:
            self.refused_at.append(asyncio.get_running_loop().time())
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            writer.transport.abort()
            return
        connection = _Connection(writer, up_writer)
        connection.running.set()
        self._connections.add(connection)
        connection.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, connection)),
            asyncio.create_task(self._pump(up_reader, writer, connection)),
        ]
        await asyncio.gather(*connection.tasks, return_exceptions=True)
        self._connections.discard(connection)
        connection.abort()

    @staticmethod
    async def _pump(
        source: asyncio.StreamReader, target: asyncio.StreamWriter, connection: _Connection
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                data = await source.read(65536)
                if not data:
                    break
                await connection.running.wait()  # a stalled connection holds data forever
                target.write(data)
                await target.drain()
        connection.abort()
