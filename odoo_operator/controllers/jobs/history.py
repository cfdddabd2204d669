"""Job history: terminal job resources beyond `--job-history-limit` are deleted.

Guarantees: per instance and kind, the terminal (Completed or Failed) resources are
ordered oldest first (creationTimestamp, then name) and all but the newest `limit` are
deleted; pending and running ones are never counted nor deleted. Deleting a resource
deletes its batch Job and copied Secrets with it (owner references).
"""

from __future__ import annotations

from odoo_operator.controllers.instance.jobs import INSTANCE_INDEX, oldest_first
from odoo_operator.controllers.jobs.status import is_terminal
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.client import ApiError, KubeClient
from odoo_operator.runtime.objects import KubeObject, ObjectKey
from odoo_operator.runtime.resources import Resource


def beyond_limit(jobs: list[KubeObject], limit: int) -> list[KubeObject]:
    """The terminal resources to delete: all but the newest `limit`, oldest first."""
    ended = oldest_first([job for job in jobs if is_terminal(job)])
    return ended[: max(len(ended) - limit, 0)]


async def prune(
    client: KubeClient, resource: Resource, jobs: Lister, instance: ObjectKey, limit: int
) -> None:
    for job in beyond_limit(list(jobs.by_index(INSTANCE_INDEX, str(instance))), limit):
        metadata = job["metadata"]
        try:
            await client.delete(resource, metadata["name"], metadata["namespace"])
        except ApiError as error:
            if not error.not_found:
                raise
