"""The instance webhook: one POST per phase change; a hanging receiver slows nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from odoo_operator.sandbox.ports import free_port
from tests.instance.conftest import Operator, running_instance, write_secret


@dataclass
class Receiver:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[str | None] = field(default_factory=list)
    hang: asyncio.Event = field(default_factory=asyncio.Event)  # set: answer at once
    answered: int = 0


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    found = Receiver(f"http://127.0.0.1:{port}/hook?key=abc")
    found.hang.set()

    async def hook(request: web.Request) -> web.Response:
        found.received.append(json.loads(await request.read()))
        found.tokens.append(request.headers.get("Authorization"))
        await found.hang.wait()
        found.answered += 1
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield found
    finally:
        found.hang.set()
        await runner.cleanup()


def _phases(receiver: Receiver) -> list[tuple[str, str]]:
    return [(r["previousPhase"], r["phase"]) for r in receiver.received]


async def test_one_post_per_phase_change_with_the_secret_token(
    operator: Operator, receiver: Receiver
) -> None:
    await write_secret(operator.api, operator.namespace, "hook", {"token": "from-secret"})
    webhook = {
        "url": receiver.url,
        "token": "inline",
        "secretTokenSecretRef": {"name": "hook", "key": "token"},
    }
    await running_instance(
        operator, "shop", {"webhook": webhook, "ingress": {"hosts": ["a.example.com"]}}
    )
    expected = [
        ("Provisioning", "Uninitialized"),
        ("Uninitialized", "Initializing"),
        ("Initializing", "Starting"),
        ("Starting", "Running"),
    ]
    for _ in range(300):
        if len(receiver.received) >= len(expected):
            break
        await asyncio.sleep(0.1)
    assert sorted(_phases(receiver)) == sorted(expected)  # one each, no duplicate
    last = next(r for r in receiver.received if r["phase"] == "Running")
    assert (last["name"], last["namespace"]) == ("shop", operator.namespace)
    assert last["url"] == "https://a.example.com"
    assert last["timestamp"].endswith("Z")
    assert set(receiver.tokens) == {"Bearer from-secret"}


async def test_a_hanging_receiver_does_not_hold_the_reconciles(
    operator: Operator, receiver: Receiver
) -> None:
    receiver.hang.clear()  # never answers until the test ends
    await running_instance(operator, "shop", {"webhook": {"url": receiver.url}})
    # Running was reached through four phase changes while no POST had been answered.
    assert receiver.answered == 0
    for _ in range(100):
        if len(receiver.received) == 4:
            break
        await asyncio.sleep(0.1)
    assert len(receiver.received) == 4
