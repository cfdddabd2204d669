"""An S3 endpoint on loopback: moto's server, with a generated key pair.

moto accepts any credentials; we still generate and pass a pair, so every code path
that carries S3 secrets is exercised (and checked for leaks) as in production.
"""

from __future__ import annotations

import secrets
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from aiobotocore.session import ClientCreatorContext, get_session

from odoo_operator.sandbox.ports import LOOPBACK, free_port
from odoo_operator.sandbox.process import START_TIMEOUT, ManagedProcess, ProcessError

REGION = "us-east-1"


@dataclass
class S3Server:
    run_dir: Path
    port: int = field(default_factory=free_port)
    access_key: str = field(default_factory=lambda: "AKIA" + secrets.token_hex(8).upper())
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    region: str = REGION

    def __post_init__(self) -> None:
        self.process: ManagedProcess | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/", timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def client(self) -> ClientCreatorContext:
        """An aiobotocore S3 client for this endpoint (`async with server.client() as s3`)."""
        return get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the server and return at once (`wait_ready` waits until it answers)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(
            "moto-s3",
            [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)],
            self.run_dir / f"s3-{self.port}.log",
        )
        self.process.start()

    def wait_ready(self) -> None:
        if self.process is None:
            raise ProcessError("moto-s3 was never launched")
        self.process.wait_until(self._answers, START_TIMEOUT, "answering HTTP")

    def pids(self) -> list[int]:
        """PIDs of the running processes this part started (for leak checks)."""
        return [self.process.pid] if self.process is not None and self.process.running() else []

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
