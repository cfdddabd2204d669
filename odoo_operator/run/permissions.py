"""What `odoo-operator run` may do on the API server: every right, and why, as data.

`CLUSTER_RULES` are the ClusterRole's rules (in every namespace it watches), `LEASE_RULES`
the Role's in the operator's own namespace (leader election). `python -m
odoo_operator.docgen` writes them into the chart's `clusterrole.yaml` and
`leader-election-role.yaml` and into the permissions table of docs/install.md, so the
chart, the docs and this list cannot differ.

Guarantees, checked by tests/chart/test_least_privilege.py on an API server that enforces
RBAC (and `OwnerReferencesPermissionEnforcement`): with exactly these rules the operator,
run as the chart's Deployment runs it, takes an instance through its whole life without a
single refused request; with any one verb of any one rule removed, it is refused. Explicit
verbs only, no wildcards. A controller that reads or writes something new adds its rule
here, and a step that exercises it to the lifecycle of that test.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from odoo_operator.controllers.resources import (
    JOB_RESOURCES,
    ODOO_BACKUP_JOBS,
    ODOO_BACKUP_SCHEDULES,
    ODOO_INIT_JOBS,
    ODOO_INSTANCES,
    ODOO_RESTORE_JOBS,
    ODOO_UPGRADE_JOBS,
)
from odoo_operator.runtime.resources import (
    BATCH_JOBS,
    DEPLOYMENTS,
    EVENTS,
    INGRESSES,
    LEASES,
    PERSISTENT_VOLUME_CLAIMS,
    SECRETS,
    SERVICES,
    Resource,
)


@dataclass(frozen=True)
class Rule:
    """`verbs` on `resources` (all of one API group), or on their `subresource`."""

    resources: tuple[Resource, ...]
    verbs: tuple[str, ...]
    why: str
    subresource: str = ""

    @property
    def api_group(self) -> str:
        (group,) = {resource.group for resource in self.resources}
        return group

    @property
    def names(self) -> tuple[str, ...]:
        """`odooinstances`, or `odooinstances/status` for a subresource."""
        suffix = f"/{self.subresource}" if self.subresource else ""
        return tuple(f"{resource.plural}{suffix}" for resource in self.resources)


CLUSTER_RULES: tuple[Rule, ...] = (
    Rule(
        (ODOO_INSTANCES,),
        ("get", "list", "watch", "patch"),
        "watched; finalizer and spec defaults written (merge patch), the finalizer removed; "
        "read by a job controller whose cache has not seen the instance yet",
    ),
    Rule((ODOO_INSTANCES,), ("patch",), "status written by server-side apply", "status"),
    Rule(
        (ODOO_INSTANCES,),
        ("update",),
        "children's owner references set blockOwnerDeletion (needed where the API server "
        "enforces OwnerReferencesPermissionEnforcement, e.g. OpenShift)",
        "finalizers",
    ),
    Rule(
        (ODOO_INIT_JOBS,),
        ("list", "watch", "create", "patch", "delete"),
        "watched; the `<name>-auto-init` job applied (server-side apply creates it); "
        "finished ones beyond `--job-history-limit` deleted",
    ),
    Rule(
        (ODOO_UPGRADE_JOBS, ODOO_BACKUP_JOBS, ODOO_RESTORE_JOBS),
        ("list", "watch", "delete"),
        "watched: the instance's phase follows them; finished ones beyond "
        "`--job-history-limit` deleted",
    ),
    Rule(
        JOB_RESOURCES,
        ("update",),
        "batch Jobs and copied Secrets owned by a job resource set blockOwnerDeletion "
        "(OwnerReferencesPermissionEnforcement)",
        "finalizers",
    ),
    Rule(JOB_RESOURCES, ("patch",), "a finished job marked Completed or Failed", "status"),
    Rule(
        (SECRETS,),
        ("get", "list", "watch", "create", "patch", "delete"),
        "children (`-odoo-user` created once, `-odoo-conf` applied), copied pull secrets, "
        "the clusters Secret (watched); a webhook's token Secret read when sending; S3 "
        "credentials read and copied next to a backup or restore Job, deleted when it ends",
    ),
    Rule(
        (PERSISTENT_VOLUME_CLAIMS, SERVICES),
        ("list", "watch", "create", "patch"),
        "children, written by server-side apply (the filestore claim grows, never shrinks)",
    ),
    Rule(
        (DEPLOYMENTS,),
        ("list", "watch", "create", "patch"),
        "web and cron Deployments applied, scaled, restarted after an upgrade",
    ),
    Rule(
        (INGRESSES,),
        ("list", "watch", "create", "patch", "delete"),
        "the Ingress applied, deleted when `spec.ingress` goes",
    ),
    Rule(
        (BATCH_JOBS,),
        ("get", "list", "watch", "create", "delete"),
        "the job resources' batch Jobs created (read back after a crash), watched for their "
        "outcome, deleted when their instance goes",
    ),
    Rule(
        (EVENTS,),
        ("create", "patch"),
        "Events recorded; a repeated one counted up in its series",
    ),
    # The OdooBackupSchedule controller (controllers/schedule/) and backup before upgrade
    # (controllers/jobs/backup_first.py).
    Rule(
        (ODOO_BACKUP_SCHEDULES,),
        ("list", "watch"),
        "watched by the schedule controller; read by the upgrade controller: an instance's "
        "schedule makes backupFirst the default and gives the backup its destination",
    ),
    Rule((ODOO_BACKUP_SCHEDULES,), ("patch",), "status written by server-side apply", "status"),
    Rule(
        (ODOO_BACKUP_SCHEDULES,),
        ("update",),
        "OdooBackupJobs, verification Jobs and copied Secrets owned by a schedule set "
        "blockOwnerDeletion (OwnerReferencesPermissionEnforcement)",
        "finalizers",
    ),
    Rule(
        (ODOO_BACKUP_JOBS, ODOO_RESTORE_JOBS),
        ("create",),
        "one OdooBackupJob per tick of a schedule; an OdooUpgradeJob with backupFirst creates "
        "its OdooBackupJob before it runs and, when it fails, the OdooRestoreJob that rolls "
        "it back",
    ),
)

LEASE_RULES: tuple[Rule, ...] = (
    Rule(
        (LEASES,),
        ("get", "create", "update"),
        "leader election on Lease `odoo-operator-leader` (read, created once, renewed)",
    ),
)


def rules_yaml(rules: tuple[Rule, ...], indent: str = "  ") -> str:
    """The rules as the YAML list of a (Cluster)Role's `rules:`, each with its reason."""
    lines: list[str] = []
    for rule in rules:
        lines += textwrap.wrap(
            rule.why, 88, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# "
        )
        lines += [
            f'{indent}- apiGroups: ["{rule.api_group}"]',
            f"{indent}  resources: [{', '.join(rule.names)}]",
            f"{indent}  verbs: [{', '.join(rule.verbs)}]",
        ]
    return "\n".join(lines)


def table(rules: tuple[Rule, ...]) -> str:
    """A Markdown table of the rules: group, resources, verbs, why."""
    rows = ["| API group | resources | verbs | why |", "|---|---|---|---|"]
    for rule in rules:
        group = f"`{rule.api_group}`" if rule.api_group else "core"
        resources = ", ".join(f"`{name}`" for name in rule.names)
        rows.append(f"| {group} | {resources} | {', '.join(rule.verbs)} | {rule.why} |")
    return "\n".join(rows)
