"""`manifest.json` of a zip backup, with the fields Odoo's own `dump_db` writes.

Odoo fills `version`, `version_info` and `major_version` from the running server's
release; the runner has no Odoo, so it derives them from the installed `base` module's
`latest_version` (`17.0.1.3` → series `17.0`), which Odoo sets from the same release
when it installs or updates `base`. `pg_version` and `modules` are computed exactly as
Odoo does (`"%d.%d" % divmod(server_version / 100, 100)`, installed modules by name →
`latest_version`).
"""

from __future__ import annotations

import json
from typing import Any

from odoo_operator.runner.errors import JobError


def release_fields(base_version: str) -> dict[str, Any]:
    """version, version_info and major_version from base's `latest_version`."""
    parts = base_version.split(".")
    if len(parts) < 4:
        raise JobError(
            f"unexpected version {base_version!r} of the base module (expected <series>.x.y, "
            "e.g. 17.0.1.3)"
        )
    series = ".".join(parts[:-2])
    major, _, minor = series.rpartition(".")
    info: list[Any] = [
        int(major) if major.isdigit() else major,
        int(minor) if minor.isdigit() else minor,
        0,
        "final",
        0,
        "",
    ]
    return {"version": series, "version_info": info, "major_version": series}


def pg_version(server_version_num: int) -> str:
    """What Odoo writes: `"%d.%d" % divmod(server_version / 100, 100)`, e.g. "15.0"."""
    major, minor = divmod(server_version_num / 100, 100)
    return f"{int(major)}.{int(minor)}"


async def read_manifest(connection: Any, database: str, server_version_num: int) -> bytes:
    """The manifest of `database`, JSON-encoded as Odoo writes it (indent 4)."""
    exists = await connection.fetchval("SELECT to_regclass('ir_module_module') IS NOT NULL")
    base = None
    if exists:
        base = await connection.fetchval(
            "SELECT latest_version FROM ir_module_module "
            "WHERE name = 'base' AND state = 'installed'"
        )
    if not base:
        raise JobError(
            f"database {database!r} is not an initialized Odoo database (no installed base "
            "module in ir_module_module); a zip backup needs one, use --format sql or dump"
        )
    rows = await connection.fetch(
        "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed' ORDER BY name"
    )
    manifest = {
        "odoo_dump": "1",
        "db_name": database,
        **release_fields(base),
        "pg_version": pg_version(server_version_num),
        "modules": {row["name"]: row["latest_version"] for row in rows},
    }
    return json.dumps(manifest, indent=4).encode("utf-8")
