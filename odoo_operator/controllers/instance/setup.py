"""Register the OdooInstance controller: its caches, indexes, sources and runnables.

What it watches (cache scope), and what an event there reconciles:
- OdooInstances (`for_`; every instance in scope): the instance;
- Secrets, PVCs, Services, Ingresses, Deployments (`owns`; ours only, by the label
  `app.kubernetes.io/managed-by=odoo-operator`): their controller owner;
- OdooInitJobs (`owns`, for `<name>-auto-init`): their owner;
- the four job kinds (`watches`; all, indexed by `spec.odooInstanceRef`): the instance
  they name;
- batch Jobs (`watches`; ours only, same label): the instance of the job resource that
  owns them;
- Secrets of the operator namespace (`watches`; that namespace only): for the clusters
  Secret every instance on a cluster it names (and those without one yet); for another
  Secret the instances using it as `imagePullSecret`;
- copied pull secrets (`watches`; ours): the instances of that namespace using it.

The informer's delivery of the controller's own write to an instance or a child (its
echo, `own_writes.is_echo`) reconciles nothing: the reconcile that wrote it already
acted on it. Every other change, and every deletion, does.

The operator therefore never caches the Secrets of the cluster at large: only its own,
selected by label, and those of its own namespace. Also registered: the notifier and the
PostgreSQL pools as manager runnables (stopped after the controllers), and the metric
`odoo_operator_instances{phase}`, counted from the instance cache at each scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import yaml
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from odoo_operator.controllers.instance import jobs, names
from odoo_operator.controllers.instance.clusters import CLUSTERS_KEY
from odoo_operator.controllers.instance.context import Caches, Context, decode
from odoo_operator.controllers.instance.phase import Phase
from odoo_operator.controllers.instance.postgres import DatabaseAdmin, PostgresAdmin
from odoo_operator.controllers.instance.reconciler import InstanceReconciler
from odoo_operator.controllers.instance.snapshot_builder import JobCaches, current_phase
from odoo_operator.controllers.notify import Notifier
from odoo_operator.controllers.resources import JOB_RESOURCES, ODOO_INIT_JOBS, ODOO_INSTANCES
from odoo_operator.controllers.settings import OperatorSettings
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.manager import Manager
from odoo_operator.runtime.objects import KubeObject, ObjectKey, controller_owner, key_of
from odoo_operator.runtime.resources import (
    BATCH_JOBS,
    DEPLOYMENTS,
    INGRESSES,
    PERSISTENT_VOLUME_CLAIMS,
    SECRETS,
    SERVICES,
    Resource,
)

CONTROLLER = "odooinstance"
CLUSTER_INDEX = "cluster"
PULL_SECRET_INDEX = "pull-secret"  # noqa: S105 - an index name
CHILD_KINDS = (SECRETS, PERSISTENT_VOLUME_CLAIMS, SERVICES, INGRESSES, DEPLOYMENTS)


def cluster_of(instance: KubeObject) -> Iterable[str]:
    """Index: the instance's cluster name ("" while it has none)."""
    return [str(((instance.get("spec") or {}).get("database") or {}).get("cluster") or "")]


def pull_secret_of(instance: KubeObject) -> Iterable[str]:
    """Index: the instance's `imagePullSecret`, if it has one."""
    name = (instance.get("spec") or {}).get("imagePullSecret")
    return [str(name)] if name else []


class InstancesByPhase(Collector):
    """`odoo_operator_instances{phase}`: instances per phase, read from the cache."""

    def __init__(self, instances: Lister) -> None:
        self.instances = instances

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = dict.fromkeys(Phase, 0)
        for instance in self.instances.list():
            counts[current_phase(instance)] += 1
        family = GaugeMetricFamily(
            "odoo_operator_instances", "OdooInstances per phase.", labels=["phase"]
        )
        for phase, count in counts.items():
            family.add_metric([phase.value], count)
        yield family


def setup(
    manager: Manager, settings: OperatorSettings, database: DatabaseAdmin | None = None
) -> InstanceReconciler:
    """Register the controller on `manager`; `database` defaults to the real PostgreSQL admin."""
    instances = manager.informer(ODOO_INSTANCES)
    instances.add_index(CLUSTER_INDEX, cluster_of)
    instances.add_index(PULL_SECRET_INDEX, pull_secret_of)
    children = {
        kind: manager.informer(kind, label_selector=names.CHILD_SELECTOR) for kind in CHILD_KINDS
    }
    init_jobs = manager.informer(ODOO_INIT_JOBS)
    job_informers = {kind: manager.informer(resource) for kind, resource in jobs.KINDS.items()}
    for informer in job_informers.values():
        informer.add_index(jobs.INSTANCE_INDEX, jobs.instance_index)
    batch_jobs = manager.informer(BATCH_JOBS, label_selector=names.CHILD_SELECTOR)
    operator_secrets = manager.informer(SECRETS, namespace=settings.operator_namespace)

    postgres = database or PostgresAdmin()
    notifier = Notifier(manager.client)
    ctx = Context(
        client=manager.client,
        applier=manager.applier,
        recorder=manager.recorder,
        settings=settings,
        caches=Caches(
            instances=instances.lister,
            children={
                **{kind: informer.lister for kind, informer in children.items()},
                ODOO_INIT_JOBS: init_jobs.lister,
            },
            operator_secrets=operator_secrets.lister,
            jobs=JobCaches(
                by_kind={kind: informer.lister for kind, informer in job_informers.items()},
                batch_jobs=batch_jobs.lister,
            ),
        ),
        database=postgres,
        notifier=notifier,
    )
    for resource, informer in (
        (ODOO_INSTANCES, instances),
        *children.items(),
        (ODOO_INIT_JOBS, init_jobs),
    ):
        informer.add_handler(ctx.writes.handler(resource))

    def on_operator_secret(secret: KubeObject) -> list[ObjectKey]:
        name = secret["metadata"]["name"]
        if name == settings.postgres_clusters_secret:
            return _instances_on_clusters(instances.lister, secret)
        return [key_of(i) for i in instances.lister.by_index(PULL_SECRET_INDEX, name)]

    def on_copied_pull_secret(secret: KubeObject) -> list[ObjectKey]:
        metadata = secret["metadata"]
        return [
            key_of(instance)
            for instance in instances.lister.by_index(PULL_SECRET_INDEX, metadata["name"])
            if instance["metadata"]["namespace"] == metadata["namespace"]
        ]

    def on_batch_job(batch_job: KubeObject) -> list[ObjectKey]:
        owner = controller_owner(batch_job)
        if owner is None:
            return []
        for resource in JOB_RESOURCES:
            if owner.get("kind") == resource.kind:
                lister = job_informers[_slot_of(resource.kind)].lister
                job = lister.get(ObjectKey(batch_job["metadata"]["namespace"], owner["name"]))
                return list(jobs.instance_keys(job)) if job is not None else []
        return []

    def echo_of(resource: Resource) -> Callable[[KubeObject], bool]:
        return lambda obj: ctx.writes.is_echo(resource, obj)

    reconciler = InstanceReconciler(ctx)
    controller = manager.controller(CONTROLLER, reconciler)
    controller.for_(instances, ignore=echo_of(ODOO_INSTANCES))
    for resource, informer in (*children.items(), (ODOO_INIT_JOBS, init_jobs)):
        controller.owns(informer, ignore=echo_of(resource))
    for informer in job_informers.values():
        controller.watches(informer, jobs.instance_keys)
    controller.watches(batch_jobs, on_batch_job)
    controller.watches(operator_secrets, on_operator_secret)
    controller.watches(children[SECRETS], on_copied_pull_secret, ignore=echo_of(SECRETS))
    manager.add_runnable("notifier", notifier)
    if isinstance(postgres, PostgresAdmin):
        manager.add_runnable("postgres", postgres)
    manager.metrics.registry.register(InstancesByPhase(instances.lister))
    return reconciler


def _slot_of(kind: str) -> str:
    return next(slot for slot, resource in jobs.KINDS.items() if resource.kind == kind)


def _instances_on_clusters(instances: Lister, secret: KubeObject) -> list[ObjectKey]:
    """Instances on any cluster the clusters Secret names, and those without a cluster."""
    try:
        document = yaml.safe_load(decode(secret, CLUSTERS_KEY) or "")
    except yaml.YAMLError:
        document = None
    if not isinstance(document, dict):  # unusable: every instance must hear of it
        return [key_of(instance) for instance in instances.list()]
    names_in_secret = {"", *(str(name) for name in document)}
    return sorted(
        key_of(instance)
        for name in names_in_secret
        for instance in instances.by_index(CLUSTER_INDEX, name)
    )
