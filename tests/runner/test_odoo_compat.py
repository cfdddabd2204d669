"""Odoo's own backups restore through the runner, and the runner's zips restore in Odoo.

No Odoo can be installed on these machines. The layout and protocol below follow Odoo's
`odoo/service/db.py` (`dump_db`, `restore_db`) and `addons/web/controllers/database.py`
(`/web/database/backup`); a small aiohttp server here speaks that protocol and is the
runner's peer for restores from a live Odoo.
"""

from __future__ import annotations

import asyncio
import html
import io
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from aiohttp import web

from odoo_operator.sandbox.ports import LOOPBACK, free_port
from tests.runner.conftest import World, make_filestore, owner_neutral, tree_fingerprint

MASTER_PASSWORD = "m4ster-Pa55word-for-tests"


def odoo_dump_zip(world: World, database: str, filestore: Path) -> bytes:
    """A zip laid out exactly as Odoo's dump_db writes one.

    dump_db fills a temporary directory with `filestore/` (a copy of the database's
    filestore), `manifest.json` (json.dump, indent 4) and `dump.sql` (`pg_dump
    --no-owner --file=...`), then zips it with osutil.zip_dir(include_dir=False,
    fnct_sort=lambda name: name != 'dump.sql'): os.walk order, file names sorted with
    dump.sql first, ZIP_DEFLATED, allowZip64, into a seekable file.
    """
    with tempfile.TemporaryDirectory() as directory:
        shutil.copytree(filestore, os.path.join(directory, "filestore"))
        manifest = {
            "odoo_dump": "1",
            "db_name": database,
            "version": "17.0",
            "version_info": [17, 0, 0, "final", 0, ""],
            "major_version": "17.0",
            "pg_version": f"{world.server_major()}.0",
            "modules": {"base": "17.0.1.3"},
        }
        with open(os.path.join(directory, "manifest.json"), "w") as handle:
            json.dump(manifest, handle, indent=4)
        subprocess.run(
            ["pg_dump", "--no-owner", "--file=" + os.path.join(directory, "dump.sql"), database],
            env={**os.environ, **world.pg.libpq_env()},
            check=True,
            capture_output=True,
        )
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zipf:
            for dirpath, _dirnames, filenames in os.walk(directory):
                for name in sorted(filenames, key=lambda n: n != "dump.sql"):
                    path = os.path.join(dirpath, name)
                    zipf.write(path, os.path.relpath(path, directory))
        return out.getvalue()


def test_a_zip_made_as_odoo_dump_db_makes_it_restores(world: World) -> None:
    """Dumped by the superuser (extension comment, GRANTs), restored by a plain role."""
    source = world.create_odoo_database("odoo_made", as_superuser=True)
    filestore = make_filestore(world.tmp / "odoo-fs")
    world.put("odoo.zip", odoo_dump_zip(world, source, filestore))
    target_files = world.tmp / "target-fs"

    result = world.restore("from_odoo_zip", "odoo.zip", "zip", "--filestore", str(target_files))
    assert result.code == 0, result.stderr
    loaded = next(
        json.loads(line) for line in result.stdout.splitlines() if "restore.loaded" in line
    )
    assert loaded["filtered"].get("GRANT", 0) >= 1
    assert loaded["manifest_version"] == "17.0"
    # Owned by the superuser there, by the role here (a trusted extension's objects by the
    # superuser in both): the same content is what counts.
    owners = (world.role, "postgres")
    restored = owner_neutral(world.fingerprint("from_odoo_zip", settings=False), *owners)
    assert restored == owner_neutral(world.fingerprint(source, settings=False), *owners)
    assert tree_fingerprint(target_files) == tree_fingerprint(filestore)
    world.admin_sql(f"DROP DATABASE {source}")


def test_our_zip_restores_the_way_odoo_restore_db_does(world: World) -> None:
    """Odoo's restore_db: is_zipfile, extract dump.sql + filestore/, `psql -q -f dump.sql`."""
    source = world.create_odoo_database("for_odoo")
    filestore = make_filestore(world.tmp / "fs")
    assert world.backup(source, "ours.zip", "zip", "--filestore", str(filestore)).code == 0
    path = world.tmp / "ours.zip"
    path.write_bytes(world.get("ours.zip"))

    extracted = world.tmp / "extracted"
    assert zipfile.is_zipfile(path)
    with zipfile.ZipFile(path, "r") as archive:
        members = [m for m in archive.namelist() if m.startswith("filestore/")]
        archive.extractall(extracted, ["dump.sql", *members])
    world.admin_sql("CREATE DATABASE \"odoo_restored\" ENCODING 'unicode' TEMPLATE template0")
    psql = subprocess.run(
        ["psql", "--dbname=odoo_restored", "-q", "-f", str(extracted / "dump.sql")],
        env={**os.environ, **world.pg.libpq_env()},
        capture_output=True,
        text=True,
        check=False,
    )
    assert psql.returncode == 0
    assert "ERROR" not in psql.stderr, psql.stderr
    owners = (world.role, "postgres")  # loaded by the superuser here
    restored = owner_neutral(world.fingerprint("odoo_restored", settings=False), *owners)
    assert restored == owner_neutral(world.fingerprint(source, settings=False), *owners)
    assert tree_fingerprint(extracted / "filestore") == tree_fingerprint(filestore)
    world.admin_sql('DROP DATABASE "odoo_restored"')


ERROR_PAGE = """<!DOCTYPE html>
<html><head><title>Odoo</title></head><body>
<div class="alert alert-danger" role="alert">{error}</div>
<form action="/web/database/backup" method="post">...</form>
</body></html>"""


class OdooPeer:
    """Odoo's `/web/database/backup`, as its database controller answers it."""

    def __init__(self, world: World, filestore: Path) -> None:
        self.world = world
        self.filestore = filestore
        self.requests: list[dict[str, str]] = []
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.runner: web.AppRunner | None = None

    async def backup(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append(form)
        if form.get("master_pwd") != MASTER_PASSWORD:
            error = html.escape("Database backup error: Access Denied")
            return web.Response(text=ERROR_PAGE.format(error=error), content_type="text/html")
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream; charset=binary",
                "Content-Disposition": f"attachment; filename={form['name']}.backup",
            }
        )
        await response.prepare(request)
        if form["backup_format"] == "zip":
            data = await asyncio.to_thread(odoo_dump_zip, self.world, form["name"], self.filestore)
            for start in range(0, len(data), 65536):
                await response.write(data[start : start + 65536])
        else:  # dump_db's other format: pg_dump --format=c streamed as it comes
            process = await asyncio.create_subprocess_exec(
                "pg_dump",
                "--no-owner",
                "--format=c",
                form["name"],
                stdout=asyncio.subprocess.PIPE,
                env={**os.environ, **self.world.pg.libpq_env()},
            )
            assert process.stdout is not None
            while chunk := await process.stdout.read(65536):
                await response.write(chunk)
            await process.wait()
        await response.write_eof()
        return response

    async def __aenter__(self) -> OdooPeer:
        app = web.Application()
        app.router.add_post("/web/database/backup", self.backup)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, LOOPBACK, self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_restore_from_a_live_odoo_zip_and_dump(world: World) -> None:
    source = world.create_odoo_database("live_odoo")
    filestore = make_filestore(world.tmp / "live-fs")
    env = world.job_env(ODOO_MASTER_PASSWORD=MASTER_PASSWORD)
    async with OdooPeer(world, filestore) as odoo:
        target_files = world.tmp / "fs-from-odoo"
        odoo_flags = ["--odoo-url", odoo.url + "/", "--source-database", source]
        zipped = await world.job_async(
            "restore", "--database", "copy_zip", "--format", "zip",
            "--filestore", str(target_files), *odoo_flags, env=env,
        )  # fmt: skip
        dumped = await world.job_async(
            "restore", "--database", "copy_dump", "--format", "dump", *odoo_flags, env=env
        )
    assert zipped.code == 0, zipped.stderr
    assert dumped.code == 0, dumped.stderr
    assert odoo.requests == [
        {"master_pwd": MASTER_PASSWORD, "name": source, "backup_format": "zip"},
        {"master_pwd": MASTER_PASSWORD, "name": source, "backup_format": "dump"},
    ]
    assert world.fingerprint("copy_zip", settings=False) == world.fingerprint(
        source, settings=False
    )
    assert world.fingerprint("copy_dump", settings=False) == world.fingerprint(
        source, settings=False
    )
    assert tree_fingerprint(target_files) == tree_fingerprint(filestore)


async def test_a_wrong_master_password_is_a_clear_error_and_changes_nothing(
    world: World,
) -> None:
    source = world.create_odoo_database("guarded")
    target = world.create_odoo_database("keep_me")
    before = world.fingerprint(target)
    env = world.job_env(ODOO_MASTER_PASSWORD="not-the-password")
    async with OdooPeer(world, world.tmp) as odoo:
        result = await world.job_async(
            "restore", "--database", target, "--format", "dump",
            "--odoo-url", odoo.url, "--source-database", source, env=env,
        )  # fmt: skip
    assert result.code == 1
    assert result.error_line == (
        f"error: Odoo refused the backup of {source!r} from Odoo at {odoo.url}: Access "
        "Denied (check ODOO_MASTER_PASSWORD, --source-database, and that its database "
        "manager is enabled: list_db = True)"
    )
    assert world.fingerprint(target) == before
    assert world.leftovers() == []
