"""Backup → restore → compare, for every format, through the real CLI, PostgreSQL and S3."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
import zlib
from io import BytesIO

import pytest

from odoo_operator.runner.s3 import crc32_base64, part_size
from tests.runner.conftest import World, make_filestore, tree_fingerprint


@pytest.mark.parametrize("fmt", ["zip", "sql", "dump"])
def test_backup_then_restore_into_another_database_is_identical(world: World, fmt: str) -> None:
    source = world.create_odoo_database(f"source_{fmt}")
    filestore = make_filestore(world.tmp / "filestore" / source)
    key = f"backups/{source}.{fmt}"
    extra = ["--filestore", str(filestore)] if fmt == "zip" else []

    backed_up = world.backup(source, key, fmt, *extra)
    assert backed_up.code == 0, backed_up.stderr
    assert backed_up.stderr == ""
    assert world.keys() == [key]
    assert world.pending_uploads() == []

    target = f"restored_{fmt}"
    target_filestore = world.tmp / "restored" / target
    target_filestore.parent.mkdir()
    extra = ["--filestore", str(target_filestore)] if fmt == "zip" else []
    restored = world.restore(target, key, fmt, *extra)
    assert restored.code == 0, restored.stderr
    assert restored.stderr == ""

    assert world.fingerprint(target, settings=False) == world.fingerprint(source, settings=False)
    if fmt == "zip":
        assert tree_fingerprint(target_filestore) == tree_fingerprint(filestore)
    assert world.leftovers(target_filestore) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may chown files to Odoo's 100:101")
def test_a_restored_filestore_belongs_to_odoo(world: World) -> None:
    source = world.create_odoo_database("owned")
    filestore = make_filestore(world.tmp / "fs")
    assert world.backup(source, "b.zip", "zip", "--filestore", str(filestore)).code == 0
    target_filestore = world.tmp / "restored" / "owned_copy"
    target_filestore.parent.mkdir()
    restored = world.restore("owned_copy", "b.zip", "zip", "--filestore", str(target_filestore))
    assert restored.code == 0, restored.stderr
    owners = {(p.lstat().st_uid, p.lstat().st_gid) for p in target_filestore.rglob("*")}
    assert owners == {(100, 101)}
    assert (target_filestore.stat().st_uid, target_filestore.stat().st_gid) == (100, 101)


def test_zip_holds_odoo_layout_and_manifest(world: World) -> None:
    source = world.create_odoo_database("layout")
    filestore = make_filestore(world.tmp / "fs")
    assert world.backup(source, "b.zip", "zip", "--filestore", str(filestore)).code == 0

    with zipfile.ZipFile(BytesIO(world.get("b.zip"))) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        dump = archive.read("dump.sql")
    assert names[:2] == ["dump.sql", "manifest.json"]
    assert {n for n in names[2:]} == {f"filestore/{p}" for p in tree_fingerprint(filestore)}
    assert manifest == {
        "odoo_dump": "1",
        "db_name": "layout",
        "version": "17.0",
        "version_info": [17, 0, 0, "final", 0, ""],
        "major_version": "17.0",
        "pg_version": f"{world.server_major()}.0",
        "modules": {"base": "17.0.1.3", "sale": "17.0.1.2", "web": "17.0.1.0"},
    }
    assert dump.startswith(b"--\n-- PostgreSQL database dump")
    assert b"OWNER TO" not in dump  # pg_dump --no-owner, as Odoo's dump_db


def test_restore_over_an_existing_database_replaces_it_and_its_filestore(world: World) -> None:
    source = world.create_odoo_database("new_data")
    source_files = make_filestore(world.tmp / "source-fs")
    assert world.backup(source, "b.zip", "zip", "--filestore", str(source_files)).code == 0

    target = world.create_odoo_database("live")
    world.role_sql(target, "CREATE TABLE only_in_old (x int); DELETE FROM res_users;")
    live_files = world.tmp / "data" / "filestore" / target
    live_files.mkdir(parents=True)
    (live_files / "old-only").write_bytes(b"old")
    world.role_sql(target, "SELECT 1")  # a session on the target is ended by the swap

    restored = world.restore(target, "b.zip", "zip", "--filestore", str(live_files))
    assert restored.code == 0, restored.stderr
    assert world.fingerprint(target, settings=False) == world.fingerprint(source, settings=False)
    assert tree_fingerprint(live_files) == tree_fingerprint(source_files)
    assert world.leftovers(live_files) == []
    allowed = "SELECT datallowconn FROM pg_database WHERE datname = current_database()"
    assert world.admin_sql(allowed, target) == "t"


def test_a_zip_without_filestore_keeps_the_current_filestore(world: World) -> None:
    source = world.create_odoo_database("db_only")
    assert world.backup(source, "db-only.zip", "zip", "--no-filestore").code == 0
    target = world.create_odoo_database("keeps_files")
    files = make_filestore(world.tmp / "fs" / target)
    before = tree_fingerprint(files, detailed=True)

    result = world.restore(target, "db-only.zip", "zip", "--filestore", str(files))
    assert result.code == 0, result.stderr
    assert world.fingerprint(target, settings=False) == world.fingerprint(source, settings=False)
    assert tree_fingerprint(files, detailed=True) == before
    assert "the archive holds no filestore; the current filestore is kept" in result.stdout
    assert world.leftovers(files) == []


def test_the_store_keeps_a_crc32_of_every_part_of_a_backup(world: World, big_database: str) -> None:
    """The object carries the composite CRC32 of its parts, as computed from its bytes."""
    key = "backups/big.sql"
    backed_up = world.backup(big_database, key, "sql")
    assert backed_up.code == 0, backed_up.stderr

    head = world.client.head_object(Bucket=world.bucket, Key=key, ChecksumMode="ENABLED")
    data = world.get(key)
    parts, offset, number = [], 0, 1
    while offset < len(data):
        parts.append(data[offset : offset + part_size(number)])
        offset, number = offset + part_size(number), number + 1
    assert len(parts) > 1
    part_crcs = b"".join(zlib.crc32(part).to_bytes(4, "big") for part in parts)
    # AWS writes the part count after the checksum of checksums ("...-15"), moto does not.
    stored = head.get("ChecksumCRC32", "").removesuffix(f"-{len(parts)}")
    assert stored == crc32_base64(part_crcs)


def test_a_dump_is_compressed_at_the_fastest_level(world: World) -> None:
    """pg_dump's default level costs 2.4x the CPU for a dump a few per cent smaller."""
    source = world.create_odoo_database("fast_dump")
    assert world.backup(source, "b.dump", "dump").code == 0
    artifact = world.tmp / "b.dump"
    artifact.write_bytes(world.get("b.dump"))

    listing = subprocess.run(
        ["pg_restore", "--list", str(artifact)], capture_output=True, text=True, check=True
    ).stdout
    header = dict(
        (name.strip(), value.strip())
        for name, _, value in (line.lstrip(";").partition(":") for line in listing.splitlines())
    )
    assert header["Format"] == "CUSTOM"
    # Archives of pg_dump 16 and later record the method only, no level.
    tool = subprocess.check_output(["pg_restore", "--version"], text=True)
    assert header["Compression"] == ("1" if int(tool.split()[2].split(".")[0]) < 16 else "gzip")
