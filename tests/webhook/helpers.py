"""Certificates for the webhook tests: written as the kubelet writes a Secret volume,
rewritten in place, and read back from a live TLS server."""

from __future__ import annotations

import asyncio
import os
import ssl
import uuid
from pathlib import Path
from typing import Any

from cryptography import x509

from odoo_operator.sandbox.certs import CertificateAuthority, KeyPair
from odoo_operator.sandbox.ports import LOOPBACK


def serial_of(pair: KeyPair) -> int:
    return x509.load_pem_x509_certificate(pair.cert_pem).serial_number


def issue(ca: CertificateAuthority) -> KeyPair:
    return ca.issue_serving(["localhost"], [LOOPBACK])


def write_like_kubelet(directory: Path, pair: KeyPair) -> None:
    """The kubelet's atomic update of a Secret volume: a new timestamped directory, then
    `..data` swapped to it by one rename; `tls.crt` and `tls.key` are links through `..data`."""
    directory.mkdir(parents=True, exist_ok=True)
    version = directory / f"..{uuid.uuid4().hex}"
    pair.write(version)
    staging = directory / "..data_tmp"
    staging.symlink_to(version.name)
    staging.rename(directory / "..data")  # the atomic swap
    for name in ("tls.crt", "tls.key"):
        link = directory / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")


def rewrite_in_place(directory: Path, pair: KeyPair) -> None:
    """A naive tool: the certificate first, then the key, each truncated and rewritten."""
    for name, content in (("tls.crt", pair.cert_pem), ("tls.key", pair.key_pem)):
        fd = os.open(directory / name, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)


def client_context(ca: CertificateAuthority) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=ca.cert_pem.decode())


async def served_serial(port: int, ca: CertificateAuthority) -> int:
    """The serial of the certificate a new TLS connection to the port is served."""
    _, writer = await asyncio.open_connection(LOOPBACK, port, ssl=client_context(ca))
    try:
        der: Any = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der).serial_number
    finally:
        writer.close()
