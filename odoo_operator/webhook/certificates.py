"""The webhook's serving certificate, reloaded from its directory while the server runs.

cert-manager (through the kubelet) updates a mounted Secret by an atomic symlink swap
(`tls.crt -> ..data/tls.crt`, `..data -> ..2026_01_31_...`); other tools rewrite the
files in place, one after the other. Both are handled the same way:

- `ReloadingCertificate.load()` reads `tls.crt` and `tls.key` and builds a new
  `ssl.SSLContext` from them; only a complete, matching pair that did not change while
  it was loaded replaces the one in use;
- `watch()` compares the files' bytes with the loaded ones every `interval` (1 s) and
  loads again when they differ; a pair that does not load yet (a half-written file, a
  new certificate beside the old key) keeps the previous one serving and is retried on
  the next tick, with one warning per distinct content;
- `server_context` is what the TLS server listens with: its SNI callback hands every
  new handshake the current context, so a reload needs no restart and no new socket,
  and handshakes in flight finish with the context they started with. The callback
  runs for clients that send no server name too (the API server dials an IP).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography import x509

_log = structlog.get_logger(__name__)

CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"


class CertificateError(RuntimeError):
    """The certificate directory does not hold a usable tls.crt/tls.key pair."""


@dataclass(frozen=True)
class _Loaded:
    cert: bytes
    key: bytes
    context: ssl.SSLContext
    serial: int


class ReloadingCertificate:
    def __init__(self, directory: Path, *, interval: float = 1.0) -> None:
        self.directory = directory
        self.interval = interval
        self._loaded: _Loaded | None = None
        self._last_failure: tuple[bytes, bytes] | None = None
        self.server_context = self._new_context()
        self.server_context.sni_callback = self._select_context

    @staticmethod
    def _new_context() -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    @property
    def serial(self) -> int | None:
        """Serial number of the certificate being served (None before the first load)."""
        return self._loaded.serial if self._loaded else None

    @property
    def serial_hex(self) -> str:
        return f"{self.serial:x}" if self.serial is not None else "none"

    def _select_context(
        self, connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        if self._loaded is not None:
            connection.context = self._loaded.context

    def _read(self) -> tuple[bytes, bytes]:
        try:
            cert = (self.directory / CERT_FILE).read_bytes()
            key = (self.directory / KEY_FILE).read_bytes()
        except OSError as error:
            raise CertificateError(
                f"--webhook-cert-dir {self.directory}: cannot read "
                f"{error.filename or CERT_FILE}: {error.strerror or error}"
            ) from None
        return cert, key

    def load(self) -> bool:
        """Load the pair if it changed; True when the served certificate was replaced.

        Raises `CertificateError` when the files cannot be read or do not form a pair;
        the certificate in use (if any) stays in use.
        """
        cert, key = self._read()
        if self._loaded is not None and (cert, key) == (self._loaded.cert, self._loaded.key):
            return False
        context = self._new_context()
        try:
            context.load_cert_chain(self.directory / CERT_FILE, self.directory / KEY_FILE)
            serial = x509.load_pem_x509_certificate(cert).serial_number
        except (ssl.SSLError, ValueError, OSError) as error:
            raise CertificateError(
                f"--webhook-cert-dir {self.directory}: {CERT_FILE} and {KEY_FILE} do not "
                f"form a certificate and its key: {error}"
            ) from None
        if self._read() != (cert, key):
            raise CertificateError(f"--webhook-cert-dir {self.directory}: changed while loading")
        self._loaded = _Loaded(cert, key, context, serial)
        self._last_failure = None
        return True

    async def watch(self) -> None:
        """Reload on change until cancelled; failures keep the previous pair serving."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                if self.load():
                    _log.info("webhook certificate reloaded", serial=self.serial_hex)
            except CertificateError as error:
                failed = self._read_quietly()
                if failed != self._last_failure:
                    self._last_failure = failed
                    _log.warning(
                        "webhook certificate not reloaded; still serving the previous one",
                        error=str(error),
                        serial=self.serial_hex,
                    )

    def _read_quietly(self) -> tuple[bytes, bytes] | None:
        try:
            return self._read()
        except CertificateError:
            return None
