"""What the job controllers work with: the caches and writers they share with the
OdooInstance controller (one notifier, one record of the batch Jobs just created)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from odoo_operator.controllers.instance.clusters import Cluster
from odoo_operator.controllers.instance.snapshot_builder import JobCaches
from odoo_operator.controllers.notify import Notifier
from odoo_operator.controllers.settings import OperatorSettings
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.client import KubeClient
from odoo_operator.runtime.events import EventRecorder


@dataclass(frozen=True)
class JobContext:
    client: KubeClient
    notifier: Notifier
    settings: OperatorSettings
    instances: Lister
    operator_secrets: Lister  # every Secret of the operator namespace
    own_secrets: Lister  # Secrets labelled managed-by odoo-operator (copies included)
    jobs: JobCaches  # job resources by kind, batch Jobs, the batch Jobs just created
    clusters: Callable[[], dict[str, Cluster]]  # the parsed clusters Secret
    recorder: EventRecorder  # Events on the instance (backup before upgrade, rollback)
