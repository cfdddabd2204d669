"""No credential in any output; hostile names are data, never SQL or shell."""

from __future__ import annotations

import json
from pathlib import Path

from odoo_operator.runner.joblog import Redactor
from tests.runner.conftest import World, make_filestore, tree_fingerprint

HOSTILE_DATABASE = 'it\'s a "db"; DROP DATABASE canary; --'
HOSTILE_KEY = 'backups/it\'s a "key"; rm -rf / $(touch pwned) `id`.zip'


def test_no_secret_in_any_output_of_success_or_failure(world: World) -> None:
    source = world.create_odoo_database("secretive")
    filestore = make_filestore(world.tmp / "fs")
    master = "Odoo-master-S3cret-value"
    outputs = [
        world.backup(source, "ok.zip", "zip", "--filestore", str(filestore)),
        world.restore("restored", "ok.zip", "zip", "--filestore", str(world.tmp / "out")),
        world.restore("restored", "missing.zip", "zip"),  # S3 error
        world.backup("no_such_database", "x.sql", "sql"),  # PostgreSQL error
        world.job(
            "backup", "--database", source, "--format", "sql", *world.s3_flags("y"),
            env=world.job_env(PGPASSWORD="wrong-" + world.role_password),
        ),  # authentication failure, with the password in the environment
        world.job(
            "restore", "--database", "other", "--format", "zip",
            "--odoo-url", "http://127.0.0.1:9", "--source-database", source,
            env=world.job_env(ODOO_MASTER_PASSWORD=master),
        ),  # unreachable Odoo
        world.job(
            "backup", "--database", source, "--format", "sql",
            "--endpoint", f"http://user:{world.s3.secret_key}@127.0.0.1:9",
            "--bucket", world.bucket, "--key", "z",
        ),  # a secret pasted into a URL
    ]  # fmt: skip
    assert [o.code for o in outputs] == [0, 0, 1, 1, 1, 1, 2]
    secrets = [world.s3.secret_key, world.role_password, master, world.pg.password]
    for output in outputs:
        text = output.stdout + output.stderr
        for secret in secrets:
            assert secret not in text
    assert outputs[-1].error_line == (
        "error: --endpoint must not carry credentials ('http://127.0.0.1:9'); they come from "
        "the environment"
    )


def test_hostile_database_and_key_names_are_only_names(world: World) -> None:
    world.admin_sql("CREATE DATABASE canary")
    source = world.create_odoo_database(HOSTILE_DATABASE)
    filestore = make_filestore(world.tmp / "hostile fs; $(id)")
    backed_up = world.backup(source, HOSTILE_KEY, "zip", "--filestore", str(filestore))
    assert backed_up.code == 0, backed_up.stderr
    assert world.keys() == [HOSTILE_KEY]

    target = HOSTILE_DATABASE + " restored"
    target_files = world.tmp / "target 'fs'; `id`"
    restored = world.restore(target, HOSTILE_KEY, "zip", "--filestore", str(target_files))
    assert restored.code == 0, restored.stderr
    assert world.fingerprint(target, settings=False) == world.fingerprint(source, settings=False)
    assert tree_fingerprint(target_files) == tree_fingerprint(filestore)

    again = world.restore(target, HOSTILE_KEY, "zip", "--filestore", str(target_files))
    assert again.code == 0, again.stderr  # the swap over an existing hostile name too
    assert "canary" in world.databases()
    assert not Path("pwned").exists()
    assert not (Path.cwd() / "pwned").exists()
    world.admin_sql("DROP DATABASE canary")


def test_the_redactor_hides_secrets_raw_and_json_escaped() -> None:
    """The safety net under every log line and the error line."""
    environment = {"PGPASSWORD": 'pa"ss\\word', "AWS_SECRET_ACCESS_KEY": "s3cr3t-key", "X": "y"}
    redact = Redactor.from_environment(environment)
    line = json.dumps({"error": 'auth with pa"ss\\word failed', "key": "s3cr3t-key"})
    assert redact(line) == '{"error": "auth with *** failed", "key": "***"}'
    assert redact('plain pa"ss\\word and s3cr3t-key') == "plain *** and ***"
