"""A backup fetched from a live Odoo's database manager, as an async byte source.

Odoo answers `POST <url>/web/database/backup` (form fields `master_pwd`, `name`,
`backup_format` = zip or dump) with the artifact, streamed; on any failure (wrong master
password, unknown database, database manager disabled) it answers 200 with an HTML page
carrying "Database backup error: ...". Guarantees:
- An answer that is not the artifact (HTTP error, HTML page) raises a `JobError` with
  Odoo's own error text when the page has one; the caller checks the artifact's magic
  bytes before using it.
- The master password is sent in the POST body only, never in a URL or a log line; URLs
  are shown without any user:password part.
"""

from __future__ import annotations

import html
import re
import ssl
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from odoo_operator.runner.errors import JobError

_ERROR_TEXT = re.compile(rb"Database backup error:\s*([^<]*)")
_HTML_SAMPLE = 64 << 10


def display_url(url: str) -> str:
    """The URL without credentials, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_url(url: str, flag: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise JobError(f"{flag} must be an http:// or https:// URL, got {display_url(url)!r}")
    if parts.username or parts.password:
        raise JobError(
            f"{flag} must not carry credentials ({display_url(url)!r}); they come from the "
            "environment"
        )
    return url


class OdooDownload:
    """The body of Odoo's backup answer; `open()` sends the request and checks the answer."""

    def __init__(
        self, url: str, database: str, backup_format: str, password: str, insecure: bool
    ) -> None:
        self._endpoint = url.rstrip("/") + "/web/database/backup"
        self.where = f"the backup of {database!r} from Odoo at {display_url(url)}"
        self._form = {"master_pwd": password, "name": database, "backup_format": backup_format}
        self._insecure = insecure
        self._session: aiohttp.ClientSession | None = None
        self._response: aiohttp.ClientResponse | None = None
        self.size: int | None = None

    async def open(self) -> None:
        # Odoo builds a whole zip before its first byte: allow it half an hour.
        timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_read=1800)
        verify: ssl.SSLContext | bool = not self._insecure
        self._session = aiohttp.ClientSession(timeout=timeout)
        try:
            self._response = await self._session.post(
                self._endpoint, data=self._form, ssl=verify, allow_redirects=False
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise JobError(f"cannot fetch {self.where}: {error}") from None
        response = self._response
        if response.status != 200:
            raise JobError(f"cannot fetch {self.where}: Odoo answered HTTP {response.status}")
        if response.content_type == "text/html":
            sample = await response.content.read(_HTML_SAMPLE)
            found = _ERROR_TEXT.search(sample)
            detail = (
                html.unescape(found.group(1).decode("utf-8", "replace")).strip()
                if found
                else "an HTML page instead of a backup"
            )
            raise JobError(
                f"Odoo refused {self.where}: {detail} (check ODOO_MASTER_PASSWORD, "
                "--source-database, and that its database manager is enabled: list_db = True)"
            )
        self.size = response.content_length

    async def read(self, size: int) -> bytes:
        assert self._response is not None
        try:
            return await self._response.content.read(size)
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise JobError(f"the download of {self.where} failed: {error}") from None

    async def close(self) -> None:
        if self._response is not None:
            self._response.release()
        if self._session is not None:
            await self._session.close()
