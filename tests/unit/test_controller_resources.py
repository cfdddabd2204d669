"""The runtime `Resource`s of our kinds: derived from the API models, typed nowhere else."""

from __future__ import annotations

from pathlib import Path

import yaml

from odoo_operator.api import KINDS
from odoo_operator.api.crd import rendered_files
from odoo_operator.controllers.resources import (
    JOB_RESOURCES,
    ODOO_BACKUP_JOBS,
    ODOO_BACKUP_SCHEDULES,
    ODOO_INIT_JOBS,
    ODOO_INSTANCES,
    ODOO_RESTORE_JOBS,
    ODOO_UPGRADE_JOBS,
)

PACKAGE = Path(__file__).resolve().parent.parent.parent / "odoo_operator"


def test_each_resource_is_the_collection_its_crd_serves() -> None:
    crds = [yaml.safe_load(text) for text in rendered_files().values()]
    served = [
        (crd["spec"]["group"], crd["spec"]["versions"][0]["name"], crd["spec"]["names"]["plural"])
        for crd in crds
    ]
    ours = (
        ODOO_INSTANCES,
        ODOO_INIT_JOBS,
        ODOO_UPGRADE_JOBS,
        ODOO_BACKUP_JOBS,
        ODOO_RESTORE_JOBS,
        ODOO_BACKUP_SCHEDULES,
    )
    assert [(r.group, r.version, r.plural) for r in ours] == served
    assert [r.kind for r in ours] == [model.KIND for model in KINDS]
    assert all(r.namespaced for r in ours)
    assert ODOO_INSTANCES.path("shop", "a") == (
        "/apis/bemade.org/v1alpha1/namespaces/shop/odooinstances/a"
    )
    assert JOB_RESOURCES == (ODOO_INIT_JOBS, ODOO_UPGRADE_JOBS, ODOO_BACKUP_JOBS, ODOO_RESTORE_JOBS)


def test_no_group_or_plural_is_typed_outside_the_api() -> None:
    """Code names our kinds through `controllers.resources`, never as a string literal."""
    names = ["bemade.org", "v1alpha1", *(model.PLURAL for model in KINDS)]
    literals = [f"{quote}{name}{quote}" for name in names for quote in "'\""]
    offenders = {
        str(path.relative_to(PACKAGE)): [text for text in literals if text in path.read_text()]
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "api"
    }
    assert {path: found for path, found in offenders.items() if found} == {}
