"""odoo.conf of an instance (SPEC §4): pure text from the instance and its database cluster.

Guarantees:
- `[options]`, then the built-in keys in SPEC's order (`data_dir`, `proxy_mode`,
  `addons_path`, `db_host`, `db_port`, `db_name`, `db_user`, `db_password`, `list_db`,
  `dbfilter`, `http_port`, `gevent_port`, `max_cron_threads`, `admin_passwd`), then
  `configOptions` in key order; a `configOptions` key that names a built-in replaces its
  value where it stands;
- a key or value that could break out of its line (a newline, a NUL) or a key that is
  not a plain option name is refused with `ValueError` naming `spec.configOptions.<key>`:
  nothing a user writes can add a line of its own to the file;
- the text holds passwords, so it only ever goes into the `<name>-odoo-conf` Secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DATA_DIR = "/var/lib/odoo"
CONF_DIR = "/etc/odoo"
CONF_PATH = f"{CONF_DIR}/odoo.conf"
ADDONS_PATH = "/mnt/extra-addons,/usr/lib/python3/dist-packages/odoo/addons"
HTTP_PORT = 8069
GEVENT_PORT = 8072
MAX_CRON_THREADS = 2
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Database:
    """Where and as whom Odoo connects."""

    host: str
    port: int
    name: str
    user: str
    password: str


def check_config_options(options: Mapping[str, str]) -> None:
    """Raise `ValueError` naming the first option that could not be written safely."""
    for key, value in options.items():
        field = f"spec.configOptions.{key}"
        if not _KEY.match(key):
            raise ValueError(f"{field}: not an option name (letters, digits, _ . -)")
        if any(character in value for character in "\r\n\x00"):
            raise ValueError(f"{field}: a value must be one line (no newline)")


def render(
    database: Database, admin_password: str | None, config_options: Mapping[str, str]
) -> str:
    """The whole file."""
    check_config_options(config_options)
    options: dict[str, str] = {
        "data_dir": DATA_DIR,
        "proxy_mode": "True",
        "addons_path": ADDONS_PATH,
        "db_host": database.host,
        "db_port": str(database.port),
        "db_name": database.name,
        "db_user": database.user,
        "db_password": database.password,
        "list_db": "False",
        "dbfilter": f"^{database.name}$",
        "http_port": str(HTTP_PORT),
        "gevent_port": str(GEVENT_PORT),
        "max_cron_threads": str(MAX_CRON_THREADS),
    }
    if admin_password is not None:
        options["admin_passwd"] = admin_password
    for key in sorted(config_options):
        options[key] = config_options[key]
    lines = ["[options]", *(f"{key} = {value}" for key, value in options.items())]
    return "\n".join(lines) + "\n"
