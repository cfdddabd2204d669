"""The CLI contract: bad flags are one clear line and exit 2, before anything is touched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from odoo_operator.runner.errors import JobError
from odoo_operator.runner.filestore import ensure_filestore_root
from tests.guards import COMMAND_GUARD

ENV = {
    "PATH": "/usr/bin:/bin",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret-example",
    "PGHOST": "127.0.0.1",
    "PGPORT": "9",  # nothing listens: a flag error must come before any connection
}
S3 = ["--endpoint", "http://127.0.0.1:9", "--bucket", "bucket", "--key", "key"]


def job(*arguments: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "odoo_operator", "job", *arguments],
        capture_output=True,
        text=True,
        env=ENV if env is None else env,
        timeout=COMMAND_GUARD,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        (["backup", *S3], "error: Missing option '--database'."),
        (
            ["backup", "--database", "d", "--format", "tar", *S3],
            "error: Invalid value for '--format': 'tar' is not one of 'zip', 'sql', 'dump'.",
        ),
        (
            ["backup", "--database", "d", *S3],
            "error: --format zip needs --filestore DIR, or --no-filestore to leave it out",
        ),
        (
            ["backup", "--database", "d", "--filestore", "/nonexistent", *S3],
            "error: --filestore '/nonexistent' is not a directory",
        ),
        (
            ["backup", "--database", "d", "--format", "sql", "--filestore", "/tmp", *S3],
            "error: --filestore applies to --format zip only, not sql",
        ),
        (
            ["backup", "--database", "d", "--format", "sql", "--bucket", "b"],
            "error: --key is required",
        ),
        (
            ["backup", "--database", "x" * 64, "--format", "sql", *S3],
            f"error: --database {'x' * 64!r} is longer than 63 bytes",
        ),
        (
            ["backup", "--database", "d", "--format", "sql", *S3[:4], "--key", "k" * 1025],
            "error: --key is longer than 1024 bytes",
        ),
        (
            ["backup", "--database", "d", "--format", "sql", "--endpoint", "ftp://x", *S3[2:]],
            "error: --endpoint must be an http:// or https:// URL, got 'ftp://x'",
        ),
        (
            ["restore", "--database", "d", "--format", "sql"],
            "error: give exactly one source: --endpoint/--bucket/--key (S3) or "
            "--odoo-url/--source-database (a live Odoo)",
        ),
        (
            ["restore", "--database", "d", *S3, "--odoo-url", "http://odoo"],
            "error: give exactly one source: --endpoint/--bucket/--key (S3) or "
            "--odoo-url/--source-database (a live Odoo)",
        ),
        (
            ["restore", "--database", "d", "--format", "sql", "--odoo-url", "http://o",
             "--source-database", "s"],
            "error: Odoo serves zip or dump backups, not --format sql",
        ),
        (
            ["restore", "--database", "d", "--odoo-url", "http://o", "--source-database", "s"],
            "error: ODOO_MASTER_PASSWORD is not set (the source Odoo's master password)",
        ),
        (
            ["restore", "--database", "postgres", *S3],
            "error: --database 'postgres' is reserved; refusing to restore over it",
        ),
        (
            ["restore", "--database", "odoo_restore_0123456789_abcdef01", *S3],
            "error: --database 'odoo_restore_0123456789_abcdef01' is reserved; refusing to "
            "restore over it",
        ),
        (
            ["restore", "--database", "d", "--format", "dump", "--filestore", "/tmp/fs", *S3],
            "error: --filestore applies to --format zip only, not dump",
        ),
        (
            ["restore", "--database", "d", "--filestore", "/nonexistent/dir/fs", *S3],
            "error: --filestore '/nonexistent/dir/fs': "
            "Odoo's data directory '/nonexistent' does not exist",
        ),
    ],
)  # fmt: skip
def test_bad_flags_are_one_line_and_exit_2(arguments: list[str], line: str) -> None:
    code, stdout, stderr = job(*arguments)
    assert (code, stderr) == (2, line + "\n")
    assert stdout == ""


def test_missing_s3_credentials_are_named() -> None:
    env = {k: v for k, v in ENV.items() if k != "AWS_SECRET_ACCESS_KEY"}
    code, _, stderr = job("backup", "--database", "d", "--format", "sql", *S3, env=env)
    assert (code, stderr) == (2, "error: S3 credentials missing: set AWS_SECRET_ACCESS_KEY\n")


def test_an_unreachable_server_is_a_runtime_failure_with_exit_1() -> None:
    code, stdout, stderr = job("backup", "--database", "d", "--format", "sql", *S3)
    assert code == 1
    assert stderr.startswith("error: cannot reach PostgreSQL for database 'd' on 127.0.0.1:9")
    assert stderr.count("\n") == 1
    assert '"event": "backup.failed"' in stdout


def test_the_job_command_does_not_load_the_kubernetes_client() -> None:
    """The Job container pays only for what the runner uses (memory, start-up)."""
    probe = (
        "import sys\n"
        "from odoo_operator.cli import main\n"
        "try:\n"
        "    main(['job', 'backup', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('kubernetes')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=COMMAND_GUARD,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_fresh_volume_gets_odoos_filestore_directory(tmp_path: Path) -> None:
    """A restore into a never-started instance: the PVC is empty, `filestore/` is missing."""
    data_dir = tmp_path / "odoo"
    data_dir.mkdir()
    ensure_filestore_root(data_dir / "filestore" / "shop")
    assert (data_dir / "filestore").is_dir()
    assert not (data_dir / "filestore" / "shop").exists()  # the restore creates that one
    with pytest.raises(JobError, match="Odoo's data directory"):
        ensure_filestore_root(tmp_path / "missing" / "filestore" / "shop")
