"""Free TCP ports on loopback for the test bed's servers."""

from __future__ import annotations

import random
import socket

LOOPBACK = "127.0.0.1"
# Below Linux's ephemeral range (32768-60999 by default), so the kernel never hands
# one of these to an outgoing connection between our check and the server's bind.
PORT_RANGE = (20000, 32767)


def free_port() -> int:
    """A port in PORT_RANGE that nothing listens on right now.

    Another test session may still take it before our server binds; that is rare
    (random choice in a range of 12,000) and the server then fails loudly at start.
    """
    for _ in range(200):
        port = random.randint(*PORT_RANGE)  # noqa: S311 - not for security
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on {LOOPBACK} in {PORT_RANGE}")


def port_open(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
