"""Port picks are claimed machine-wide for the life of the picking process."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from odoo_operator.sandbox.ports import LOOPBACK, free_port

HOLDER = """
import sys
from odoo_operator.sandbox.ports import free_port
print(free_port(), flush=True)
sys.stdin.read()
"""


def test_a_port_is_never_picked_twice_even_before_anything_listens_on_it() -> None:
    port = free_port()
    with pytest.raises(RuntimeError, match="no free port"):
        free_port((port, port))


def test_a_port_picked_by_another_process_is_skipped_until_that_process_exits() -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        port = int(holder.stdout.readline())
        with pytest.raises(RuntimeError, match="no free port"):
            free_port((port, port))
    finally:
        holder.communicate(input="")  # closing stdin ends it
    assert free_port((port, port)) == port


def test_a_listening_port_is_skipped() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind((LOOPBACK, 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(RuntimeError, match="no free port"):
            free_port((port, port))
