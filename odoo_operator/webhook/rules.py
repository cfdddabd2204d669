"""What the admission webhook refuses, per kind, as pure functions of (new, old) objects.

Each rule returns `Problem`s; an empty list admits the object. Every problem names the
field and, for a change, both values: `spec.filestore.storageSize: may only grow,
10Gi -> 5Gi`. `problems(kind, new, old)` applies the rules of one kind (old is None on
CREATE) and then the kind's model (pydantic), whose errors become problems too (field
path + message) unless a rule already reported that field.

Guarantees:
- OdooInstance: `spec.filestore.storageSize` never shrinks and is never removed once
  set; `spec.filestore.storageClass`, `spec.database.cluster` and `spec.database.name`
  never change or disappear once set (unset -> set is how the operator fills them in);
  a new `spec.database.name` is a PostgreSQL identifier of at most 63 bytes that is
  neither PostgreSQL's own database nor a runner working name;
- OdooRestoreJob: `source.type: s3` has `source.s3`, `source.type: odoo` has `source.odoo`;
- OdooBackupJob: `destination.bucket` is set;
- OdooUpgradeJob: `scheduledTime`, when set, is an RFC 3339 time with a time zone;
- OdooBackupSchedule: `schedule` is a 5-field cron expression (`backups.cron`),
  `timeZone` (when set) an IANA time zone, `destination.bucket` is set, each
  `retention` value is >= 0 and a `retention` keeps more than the newest backup;
- an UPDATE that leaves `spec` as it was is always admitted, so metadata-only writes
  (finalizers, labels) on an object admitted under older rules never get stuck.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from odoo_operator.api import KINDS, CustomResource
from odoo_operator.api.quantity import parse_quantity
from odoo_operator.backups.cron import cron_problem, zone_problem
from odoo_operator.database_names import database_name_problem


@dataclass(frozen=True)
class Problem:
    field: str  # dotted path, e.g. spec.filestore.storageSize
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


Object = dict[str, Any]
Rule = Callable[[Object, Object | None], list[Problem]]


def _value(obj: Object | None, field: str) -> Any:
    """The value at a dotted path, None when any part is missing or not an object."""
    current: Any = obj
    for part in field.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _immutable_once_set(new: Object, old: Object | None, field: str) -> list[Problem]:
    before, after = _value(old, field), _value(new, field)
    if before is None or after == before:
        return []
    if after is None:
        return [Problem(field, f"immutable once set, may not be removed (was {before})")]
    return [Problem(field, f"immutable once set, {before} -> {after}")]


def _size_or_none(value: Any) -> Fraction | None:
    try:
        return parse_quantity(str(value))
    except ValueError:
        return None


def _storage_size(new: Object, old: Object | None) -> list[Problem]:
    field = "spec.filestore.storageSize"
    before, after = _value(old, field), _value(new, field)
    if after is None:
        removed = Problem(field, f"may not be removed once set (was {before})")
        return [] if before is None else [removed]
    try:
        size = parse_quantity(str(after))
    except ValueError as error:
        return [Problem(field, str(error))]
    # An old value that does not parse was admitted before these rules: any size will do.
    previous = _size_or_none(before)
    if previous is not None and size < previous:
        return [Problem(field, f"may only grow, {before} -> {after}")]
    return []


def _database_name(new: Object, old: Object | None) -> list[Problem]:
    field = "spec.database.name"
    name = _value(new, field)
    if not isinstance(name, str) or name == _value(old, field):
        return []  # unset, or unchanged (immutability is its own rule); types: the model
    problem = database_name_problem(name)
    return [Problem(field, f"{name!r} is {problem}")] if problem else []


def instance_problems(new: Object, old: Object | None) -> list[Problem]:
    return [
        *_storage_size(new, old),
        *_immutable_once_set(new, old, "spec.filestore.storageClass"),
        *_immutable_once_set(new, old, "spec.database.cluster"),
        *_immutable_once_set(new, old, "spec.database.name"),
        *_database_name(new, old),
    ]


def restore_job_problems(new: Object, old: Object | None) -> list[Problem]:
    source_type = _value(new, "spec.source.type")
    if source_type in ("s3", "odoo") and not isinstance(
        _value(new, f"spec.source.{source_type}"), dict
    ):
        return [
            Problem(
                f"spec.source.{source_type}", f"required when spec.source.type is {source_type}"
            )
        ]
    return []


def backup_job_problems(new: Object, old: Object | None) -> list[Problem]:
    if isinstance(_value(new, "spec.destination"), dict) and not _value(
        new, "spec.destination.bucket"
    ):
        return [Problem("spec.destination.bucket", "required: the S3 bucket to upload to")]
    return []


# RFC 3339 date-time: date, "T" (or t/space), time with optional fraction, zone Z or +hh:mm.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def upgrade_job_problems(new: Object, old: Object | None) -> list[Problem]:
    field = "spec.scheduledTime"
    when = _value(new, field)
    if when is None:
        return []
    if isinstance(when, str) and _RFC3339.fullmatch(when):
        try:
            datetime.fromisoformat(when.upper().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return []
    return [
        Problem(
            field,
            f"{when!r} is not an RFC 3339 time with a time zone (e.g. 2026-01-31T22:00:00Z)",
        )
    ]


RETENTION_FIELDS = ("keepLast", "keepDaily", "keepWeekly", "keepMonthly")


def _retention(new: Object) -> list[Problem]:
    retention = _value(new, "spec.retention")
    if not isinstance(retention, dict):
        return []
    found = []
    for name in RETENTION_FIELDS:
        value = retention.get(name)
        if value is not None and (not isinstance(value, int) or value < 0):
            found.append(
                Problem(f"spec.retention.{name}", f"must be an integer >= 0, not {value!r}")
            )
    if not found and not any(retention.get(name) for name in RETENTION_FIELDS):
        found.append(
            Problem(
                "spec.retention",
                "keeps nothing but the newest backup: set keepLast, keepDaily, keepWeekly "
                "or keepMonthly above 0, or remove retention to keep every backup",
            )
        )
    return found


def backup_schedule_problems(new: Object, old: Object | None) -> list[Problem]:
    found = []
    schedule = _value(new, "spec.schedule")
    if isinstance(schedule, str):
        problem = cron_problem(schedule)
        if problem:
            found.append(Problem("spec.schedule", problem))
    zone = _value(new, "spec.timeZone")
    if isinstance(zone, str):
        problem = zone_problem(zone)
        if problem:
            found.append(Problem("spec.timeZone", problem))
    if isinstance(_value(new, "spec.destination"), dict) and not _value(
        new, "spec.destination.bucket"
    ):
        found.append(Problem("spec.destination.bucket", "required: the S3 bucket to upload to"))
    return [*found, *_retention(new)]


def no_rules(new: Object, old: Object | None) -> list[Problem]:
    return []


RULES: dict[str, Rule] = {
    "OdooInstance": instance_problems,
    "OdooInitJob": no_rules,
    "OdooUpgradeJob": upgrade_job_problems,
    "OdooBackupJob": backup_job_problems,
    "OdooRestoreJob": restore_job_problems,
    "OdooBackupSchedule": backup_schedule_problems,
}
MODELS: dict[str, type[CustomResource]] = {model.KIND: model for model in KINDS}


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".") or "(object)"


def model_problems(kind: str, obj: Object) -> list[Problem]:
    """The kind's pydantic model's objections, one per field, in the model's words."""
    try:
        MODELS[kind].model_validate(obj)
    except ValidationError as error:
        return [
            Problem(_field_path(e["loc"]), str(e["msg"]).removeprefix("Value error, "))
            for e in error.errors(include_url=False)
        ]
    return []


def problems(kind: str, new: Object, old: Object | None) -> list[Problem]:
    """Everything wrong with `new` (replacing `old`, or created when old is None)."""
    if old is not None and new.get("spec") == old.get("spec"):
        return []
    found = RULES[kind](new, old)
    reported = {problem.field for problem in found}
    found += [p for p in model_problems(kind, new) if p.field not in reported]
    return found
