"""Events of a namespace as the tests read them (events.k8s.io/v1, as our recorder writes).

Read as JSON, not through kubernetes_asyncio's typed model: the model refuses an Event
without `eventTime`, and components that write core/v1 Events (kube-controller-manager's
deployment and job controllers) leave it empty. A loaded run met one in a test's
namespace, and the whole list failed to deserialize.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio.client import ApiClient, EventsV1Api


@dataclass(frozen=True)
class Event:
    reason: str
    note: str
    type: str
    series_count: int  # 0 without a series


async def list_events(api: ApiClient, namespace: str) -> list[Event]:
    response = await EventsV1Api(api).list_namespaced_event(namespace, _preload_content=False)
    items: list[dict[str, Any]] = (await response.json())["items"]
    return [
        Event(
            reason=item.get("reason") or "",
            note=item.get("note") or "",
            type=item.get("type") or "",
            series_count=int((item.get("series") or {}).get("count") or 0),
        )
        for item in items
    ]
