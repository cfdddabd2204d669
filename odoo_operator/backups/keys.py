"""The object keys of a schedule's backups: `<prefix>/<namespace>/<instance>/<UTC timestamp>.<ext>`.

Guarantees:
- the timestamp is the backup's tick in UTC, `YYYYMMDDTHHMMSSZ` (e.g. `20260131T220000Z`):
  keys sort as their times do, and retention reads each backup's time from its own key;
- `ext` is the format (`zip`, `sql`, `dump`);
- an empty prefix puts keys at `<namespace>/...`; slashes around a prefix are ignored;
- `parse_key` accepts exactly the keys `backup_key` writes for that instance, so a key
  the schedule did not write (another instance's, a hand-made copy, a `.zip.bak`) is
  never mistaken for one of its backups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
EXTENSIONS = ("zip", "sql", "dump")
_NAME = re.compile(r"(\d{8}T\d{6}Z)\.(" + "|".join(EXTENSIONS) + r")")


@dataclass(frozen=True, order=True)
class BackupObject:
    """One backup of the schedule: its time (from the key) and its key."""

    time: datetime
    key: str


def instance_prefix(prefix: str, namespace: str, instance: str) -> str:
    """The key prefix under which one instance's scheduled backups live, ending in '/'."""
    parts = [part for part in (prefix.strip("/"), namespace, instance) if part]
    return "/".join(parts) + "/"


def backup_key(prefix: str, namespace: str, instance: str, when: datetime, fmt: str) -> str:
    """The key of the backup taken at `when` (aware; written in UTC) in format `fmt`."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(EXTENSIONS)}")
    if when.tzinfo is None:
        raise ValueError("when must be an aware datetime")
    stamp = when.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    return f"{instance_prefix(prefix, namespace, instance)}{stamp}.{fmt}"


def parse_key(key: str, under: str) -> BackupObject | None:
    """The backup `key` names, if it is one the schedule writes under `under`."""
    if not key.startswith(under):
        return None
    match = _NAME.fullmatch(key[len(under) :])
    if match is None:
        return None
    try:
        when = datetime.strptime(match.group(1), TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:  # e.g. month 13: not a key we wrote
        return None
    return BackupObject(when, key)


# Backups taken before an upgrade (`controllers.jobs.backup_first`) live one level below
# the schedule's keys, so `parse_key` (a bare `<timestamp>.<ext>` after the prefix) never
# counts them and retention never prunes them.
PRE_UPGRADE_SEGMENT = "pre-upgrade"


def pre_upgrade_key(
    prefix: str, namespace: str, instance: str, when: datetime, *, upgrade: str, fmt: str
) -> str:
    """`<prefix>/<namespace>/<instance>/pre-upgrade/<UTC timestamp>-<upgrade>.<ext>`."""
    if when.tzinfo is None:
        raise ValueError("when must be an aware datetime")
    stamp = when.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    under = instance_prefix(prefix, namespace, instance)
    return f"{under}{PRE_UPGRADE_SEGMENT}/{stamp}-{upgrade}.{fmt}"
