"""Free TCP ports on loopback for the test bed's servers.

Guarantees:
- a port `free_port()` returns was not listening when picked, and no other caller of
  `free_port()` on this machine (another process, another test session) gets it while
  the picking process lives: each pick is claimed by binding an abstract Unix socket
  named after the port, which the kernel frees when the process exits, so nothing is
  left behind and nothing needs cleaning up;
- so a server may take as long as it likes to start and bind its port, and may be
  restarted on the same port, without a side-by-side session taking it in between.
  (Before claims, two suites on one machine did: one picked a port, the other picked
  and bound it while the first's operator was still importing.)
- ports are below Linux's ephemeral range (32768-60999 by default), so the kernel never
  hands one to an outgoing connection either.
"""

from __future__ import annotations

import random
import socket

LOOPBACK = "127.0.0.1"
PORT_RANGE = (20000, 32767)
CLAIM_PREFIX = "odoo-operator-port-"
"""Abstract socket names: `@odoo-operator-port-<port>` in `ss -x`, one per claim."""

_claims: dict[int, socket.socket] = {}  # held until this process exits


def _claim(port: int) -> bool:
    claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        claim.bind(f"\0{CLAIM_PREFIX}{port}")
    except OSError:
        claim.close()
        return False
    _claims[port] = claim
    return True


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def free_port(port_range: tuple[int, int] = PORT_RANGE) -> int:
    """A port in `port_range`, free now and claimed for this process (see above)."""
    for _ in range(200):
        port = random.randint(*port_range)  # noqa: S311 - not for security
        if port in _claims or not _claim(port):
            continue
        if _listening(port):
            continue  # kept claimed: taken by something that does not claim
        return port
    raise RuntimeError(f"no free port on {LOOPBACK} in {port_range}")


def port_open(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
