"""Register the four job controllers (`odooinitjob`, `odooupgradejob`, `odoobackupjob`,
`odoorestorejob`), after the OdooInstance controller, whose caches and notifier they share.

What each watches, and what an event there reconciles:
- its job kind (`for_`; indexed by instance, by the instance controller): that resource;
- batch Jobs (`owns`; ours, by label): their owner of this kind;
- OdooInstances (`watches`): the unfinished resources of this kind naming it (a phase
  change may let one start; a deletion stops them);
- its job kind again (`watches`): the unfinished resources of the same instance, so that
  when one ends the next one starts;
- the upgrade controller also: OdooBackupJobs and OdooRestoreJobs (`owns`): the upgrade
  that made them (backup before upgrade, rollback), and reads OdooBackupSchedules (the
  default destination of that backup; cached, no reconcile of their own here).

Also registered: `odoo_operator_backup_last_success_timestamp_seconds`, read from the
instance cache at each scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from odoo_operator.controllers.instance import jobs as instance_jobs
from odoo_operator.controllers.instance import names
from odoo_operator.controllers.instance.context import Context
from odoo_operator.controllers.jobs.backup_first import BackupFirst
from odoo_operator.controllers.jobs.context import JobContext
from odoo_operator.controllers.jobs.kinds import KINDS
from odoo_operator.controllers.jobs.reconciler import JobReconciler
from odoo_operator.controllers.jobs.status import is_terminal
from odoo_operator.controllers.resources import ODOO_BACKUP_SCHEDULES, ODOO_INSTANCES
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.manager import Manager
from odoo_operator.runtime.objects import KubeObject, ObjectKey, key_of, parse_time
from odoo_operator.runtime.resources import BATCH_JOBS, SECRETS


def _unfinished_of(jobs: Lister, instance: ObjectKey) -> list[ObjectKey]:
    return [
        key_of(job)
        for job in jobs.by_index(instance_jobs.INSTANCE_INDEX, str(instance))
        if not is_terminal(job)
    ]


def _by_instance(jobs: Lister) -> Callable[[KubeObject], list[ObjectKey]]:
    return lambda instance: _unfinished_of(jobs, key_of(instance))


def _siblings(jobs: Lister) -> Callable[[KubeObject], list[ObjectKey]]:
    return lambda job: _unfinished_of(jobs, instance_jobs.instance_of(job))


class LastBackup(Collector):
    """`odoo_operator_backup_last_success_timestamp_seconds{namespace,instance}`, from
    each instance's `status.lastBackup` in the cache (so it survives a restart)."""

    def __init__(self, instances: Lister) -> None:
        self.instances = instances

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "odoo_operator_backup_last_success_timestamp_seconds",
            "Time of the last successful backup of an OdooInstance (Unix seconds).",
            labels=["namespace", "instance"],
        )
        for instance in self.instances.list():
            last = (instance.get("status") or {}).get("lastBackup")
            if last:
                metadata = instance["metadata"]
                family.add_metric(
                    [metadata["namespace"], metadata["name"]], parse_time(last).timestamp()
                )
        yield family


def setup(manager: Manager, instance_ctx: Context) -> dict[str, JobReconciler]:
    """Register one controller per kind; returns their reconcilers by kind word."""
    instances = manager.informer(ODOO_INSTANCES)
    batch_jobs = manager.informer(BATCH_JOBS, label_selector=names.CHILD_SELECTOR)
    own_secrets = manager.informer(SECRETS, label_selector=names.CHILD_SELECTOR)
    caches = instance_ctx.caches
    batch_jobs.add_handler(caches.jobs.writes.handler(BATCH_JOBS))
    ctx = JobContext(
        client=manager.client,
        notifier=instance_ctx.notifier,
        settings=instance_ctx.settings,
        instances=caches.instances,
        operator_secrets=caches.operator_secrets,
        own_secrets=own_secrets.lister,
        jobs=caches.jobs,
        clusters=instance_ctx.clusters,
        recorder=instance_ctx.recorder,
    )
    informers = {kind.word: manager.informer(kind.resource) for kind in KINDS}
    schedules = manager.informer(ODOO_BACKUP_SCHEDULES)
    reconcilers: dict[str, JobReconciler] = {}
    for kind in KINDS:
        informer = informers[kind.word]
        upgrade = kind.word == "upgrade"
        backup_first = BackupFirst(ctx, schedules.lister) if upgrade else None
        reconciler = JobReconciler(kind, ctx, backup_first)
        controller = manager.controller(kind.resource.kind.lower(), reconciler)
        controller.for_(informer).owns(batch_jobs)
        if upgrade:
            controller.owns(informers["backup"]).owns(informers["restore"])
        controller.watches(instances, _by_instance(informer.lister))
        controller.watches(informer, _siblings(informer.lister))
        reconcilers[kind.word] = reconciler
    manager.metrics.registry.register(LastBackup(instances.lister))
    return reconcilers
