"""A throwaway PostgreSQL server: initdb in a temp directory, a free loopback port.

Password authentication (scram-sha-256) everywhere, so a wrong password fails here as
it would in production. `initdb` and `postgres` refuse to run as root; as root we run
them as the `postgres` system user and hand it a temp directory of its own for data and
Unix socket (removed on stop). The server listens on TCP loopback only; its logs go to
the run directory. `start()` is `launch()` (starts `initdb`, returns at once) then
`wait_ready()` (starts the server, returns once it accepts connections), so a caller
can start other servers while `initdb` works.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from odoo_operator.sandbox.ports import LOOPBACK, free_port
from odoo_operator.sandbox.process import START_TIMEOUT, ManagedProcess, ProcessError

SUPERUSER = "postgres"


def postgres_bin_dir() -> Path:
    """Directory of the newest installed server binaries (`initdb`, `postgres`)."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").is_file():
            return candidate
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    raise ProcessError(
        "no PostgreSQL server binaries (initdb) found: install Debian's postgresql package"
    )


def _run_as() -> str | None:
    """The user to run the server as: `postgres` when we are root, else ourselves."""
    return SUPERUSER if os.geteuid() == 0 else None


@dataclass
class PostgresServer:
    run_dir: Path
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    port: int = field(default_factory=free_port)
    host: str = LOOPBACK
    user: str = SUPERUSER

    def __post_init__(self) -> None:
        self.bin_dir = postgres_bin_dir()
        # Data and socket live in a directory of their own, owned by the server user, not
        # under run_dir: a parent such as pytest's temp root may be (re)set to 0700 by
        # another process and lock the server user out mid-run.
        self.server_dir = Path(tempfile.mkdtemp(prefix="odoo-operator-pg-"))
        self.data_dir = self.server_dir / "data"
        self.socket_dir = self.server_dir / "socket"
        self.initdb: ManagedProcess | None = None
        self.process: ManagedProcess | None = None

    @property
    def dsn(self) -> str:
        """libpq URL; contains the password, so never log it."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/postgres"

    def libpq_env(self) -> dict[str, str]:
        """PGHOST/PGPORT/PGUSER/PGPASSWORD, as the job runner reads them."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
        }

    def _prepare_dirs(self, owner: str | None) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir()
        if owner is not None:
            account = pwd.getpwnam(owner)
            for directory in (self.server_dir, self.socket_dir):
                os.chown(directory, account.pw_uid, account.pw_gid)

    def _launch_initdb(self, owner: str | None) -> None:
        pwfile = self.server_dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if owner is not None:
            account = pwd.getpwnam(owner)
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        self.initdb = ManagedProcess(
            "initdb",
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            self.run_dir / "initdb.log",
            user=owner,
        )
        self.initdb.start()

    def _finish_initdb(self) -> None:
        assert self.initdb is not None  # launched first
        code = self.initdb.wait_exit(START_TIMEOUT)
        (self.server_dir / "pwfile").unlink()
        if code != 0:
            raise ProcessError(f"initdb failed (exit {code}); log {self.initdb.log_path}")

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start `initdb` and return; `wait_ready` starts the server once it has finished."""
        owner = _run_as()
        self._prepare_dirs(owner)
        self._launch_initdb(owner)

    def wait_ready(self) -> None:
        self._finish_initdb()
        self.process = ManagedProcess(
            "postgres",
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-c",
                f"unix_socket_directories={self.socket_dir}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            self.run_dir / "postgres.log",
            user=_run_as(),
            stop_signal=signal.SIGINT,  # "fast" shutdown; SIGTERM waits for clients to leave
        )
        self.process.start()
        self.process.wait_until(self._accepting, START_TIMEOUT, "accepting connections")

    def _accepting(self) -> bool:
        result = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port)],
            check=False,
        )
        return result.returncode == 0

    def pids(self) -> list[int]:
        """PIDs of the running processes this part started (for leak checks)."""
        return [p.pid for p in (self.initdb, self.process) if p is not None and p.running()]

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(grace=15)
        if self.initdb is not None:
            self.initdb.stop()
        shutil.rmtree(self.server_dir, ignore_errors=True)
