"""Which PostgreSQL database names an OdooInstance may use: one rule, two users.

The runner names the temporary and previous databases of `odoo-operator job restore`
and the scratch databases of `odoo-operator job verify` with the prefixes below and
refuses to restore over them or over PostgreSQL's own databases; the admission webhook
refuses `spec.database.name` values the runner would refuse. Both import this module,
so the two can never disagree.

A leaf at the package's top: it imports only the standard library, so the runner (which
must stay light inside Job pods) uses it without loading pydantic, the models or the
Kubernetes client.
"""

from __future__ import annotations

import hashlib
import re

# Letters, digits and underscores, not starting with a digit: valid quoted or unquoted.
PG_IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
PG_IDENTIFIER_MAX_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer names

RESTORE_TEMPORARY_PREFIX = "odoo_restore_"
RESTORE_PREVIOUS_PREFIX = "odoo_previous_"
VERIFY_SCRATCH_PREFIX = "odoo_verify_"
RESERVED_PREFIXES = (RESTORE_TEMPORARY_PREFIX, RESTORE_PREVIOUS_PREFIX, VERIFY_SCRATCH_PREFIX)
PROTECTED_DATABASES = ("postgres", "template0", "template1")


def restore_target_hash(target: str) -> str:
    """The part of a working database's name that says which target it belongs to."""
    return hashlib.sha256(target.encode("utf-8")).hexdigest()[:10]


def restore_leftover_patterns(target: str) -> tuple[str, str]:
    """LIKE patterns matching every temporary and previous database of `target`'s restores
    (the runner settles them; the finalizer drops them with the instance)."""
    prefix_hash = restore_target_hash(target)
    return (
        f"{RESTORE_TEMPORARY_PREFIX}{prefix_hash}\\_%",
        f"{RESTORE_PREVIOUS_PREFIX}{prefix_hash}\\_%",
    )


def verify_leftover_pattern(target: str) -> str:
    """LIKE pattern matching every scratch database of `target`'s backup verifications."""
    return f"{VERIFY_SCRATCH_PREFIX}{restore_target_hash(target)}\\_%"


def working_database_patterns(target: str) -> tuple[str, ...]:
    """LIKE patterns of every database the runner makes while working on `target`
    (restore temporaries, previous databases, verification scratch databases)."""
    return (*restore_leftover_patterns(target), verify_leftover_pattern(target))


def is_reserved(name: str) -> bool:
    """True for PostgreSQL's own databases and the runner's working names."""
    return name in PROTECTED_DATABASES or name.startswith(RESERVED_PREFIXES)


def database_name_problem(name: str) -> str | None:
    """Why `name` cannot be an instance's database, or None when it can."""
    if len(name.encode()) > PG_IDENTIFIER_MAX_BYTES:
        return f"longer than {PG_IDENTIFIER_MAX_BYTES} bytes"
    if not re.fullmatch(PG_IDENTIFIER_PATTERN, name):
        return "not a valid PostgreSQL identifier (letters, digits, _; not starting with a digit)"
    if name in PROTECTED_DATABASES:
        return "reserved: PostgreSQL's own database"
    if name.startswith(RESERVED_PREFIXES):
        prefixes = " or ".join(RESERVED_PREFIXES)
        return f"reserved: names starting with {prefixes} are the runner's working names"
    return None
