"""Names of what a job resource makes: its batch Job and the Secrets copied for it.

Guarantees:
- `batch_job_name` depends only on the job resource's kind, name and uid: the same
  resource always gets the same name (an operator restarted after creating the Job but
  before recording it finds it again), two resources never share one (a resource deleted
  and recreated under the same name has a new uid, so a lingering old Job is not taken
  for the new one's);
- it is a DNS label of at most 63 characters (`MAX_JOB_NAME`): `<name>-<kind>-<6 hex>`,
  the name cut (and its trailing `-`/`.` dropped) when it would be longer; a batch Job's
  pods carry its name in a label, which is limited to 63 characters;
- the Secrets copied for the Job are `<job name>-s3` and `<job name>-source`;
- `fit(head, suffix, unique_by)` is the one truncation rule: `<head><suffix>` when it is
  at most 63 characters, else `<head cut>-<6 hex of unique_by><suffix>`, so two long heads
  that differ only past the cut still get different names.
"""

from __future__ import annotations

import hashlib

MAX_JOB_NAME = 63
_HASH_LENGTH = 6


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]


def _cut(head: str, room: int) -> str:
    return head[:room].rstrip("-.")


def batch_job_name(kind: str, name: str, uid: str) -> str:
    """`<name>-<kind>-<hash of uid>`; `kind` is the short word (init, upgrade, ...)."""
    suffix = f"-{kind}-{_digest(uid)}"
    return f"{_cut(name, MAX_JOB_NAME - len(suffix))}{suffix}"


def fit(head: str, suffix: str, unique_by: str) -> str:
    """`<head><suffix>` within 63 characters (see the guarantees)."""
    if len(head) + len(suffix) <= MAX_JOB_NAME:
        return f"{head}{suffix}"
    marked = f"-{_digest(unique_by)}{suffix}"
    return f"{_cut(head, MAX_JOB_NAME - len(marked))}{marked}"


def s3_credentials_copy(job_name: str) -> str:
    """The S3 credentials Secret copied into the instance's namespace for this Job."""
    return f"{job_name}-s3"


def source_secret(job_name: str) -> str:
    """The Secret holding a restore source's master password for this Job."""
    return f"{job_name}-source"
