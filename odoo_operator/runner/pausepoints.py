"""Named points where a test can hold the runner, to interrupt it at an exact step.

Inert unless `ODOO_OPERATOR_PAUSE_DIR` is set (it never is in production). When it is:
- every point the runner passes creates `<dir>/<point>.reached`;
- at the point named by `ODOO_OPERATOR_PAUSE_AT` the runner then waits until it is
  stopped (SIGTERM, SIGINT or SIGKILL): a test sees the file and interrupts it there.
The wait is a cancellable await on the event loop; worker threads reach it through
their bridge (`pause_in_worker`), so a stop request ends the wait as it ends any other.

The points are listed here, in the order a typical run passes them, so that tests
iterate over all of them: a step added to the runner gets a point here, and so a test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

PAUSE_DIR = "ODOO_OPERATOR_PAUSE_DIR"
PAUSE_AT = "ODOO_OPERATOR_PAUSE_AT"

# restore (`restore`, `load`, `swap`)
DOWNLOADING = "restore.downloading"  # the source answered with the right format; nothing made
LOADING = "restore.loading"  # the first SQL went to psql, into the temporary database
UNPACKING_FILESTORE = "restore.unpacking_filestore"  # zip: a first file in the new filestore
LOADED = "restore.loaded"  # everything loaded and verified; the swap comes next
FILESTORE_ASIDE = "swap.filestore_aside"  # the target filestore renamed to previous
FILESTORE_IN = "swap.filestore_in"  # the restored filestore renamed to the target
CONNECTIONS_FORBIDDEN = "swap.connections_forbidden"  # the target takes no new sessions
DATABASE_ASIDE = "swap.database_aside"  # the target database renamed to previous
COMMITTED = "swap.committed"  # the temporary database renamed to the target
PREVIOUS_DROPPED = "swap.previous_dropped"  # the previous database dropped

RESTORE_POINTS = (
    DOWNLOADING,
    LOADING,
    UNPACKING_FILESTORE,
    LOADED,
    FILESTORE_ASIDE,
    FILESTORE_IN,
    CONNECTIONS_FORBIDDEN,
    DATABASE_ASIDE,
    COMMITTED,
    PREVIOUS_DROPPED,
)
# The points a restore passes only when it replaces a filestore (zip with filestore/).
FILESTORE_POINTS = (UNPACKING_FILESTORE, FILESTORE_ASIDE, FILESTORE_IN)

# backup (`backup`)
UPLOAD_STARTED = "backup.upload_started"  # the multipart upload exists; no part yet
UPLOADING = "backup.uploading"  # the first part is uploaded
ADDING_FILESTORE = "backup.adding_filestore"  # zip: a first filestore file in the archive
UPLOADED = "backup.uploaded"  # every part uploaded; completing the upload comes next

BACKUP_POINTS = (UPLOAD_STARTED, UPLOADING, ADDING_FILESTORE, UPLOADED)

# verify (`verify`; the load passes restore's DOWNLOADING, LOADING, UNPACKING_FILESTORE)
VERIFY_LOADED = "verify.loaded"  # loaded into the scratch database; the checks come next
VERIFY_CHECKED = "verify.checked"  # checks done; dropping the scratch database comes next

VERIFY_POINTS = (DOWNLOADING, LOADING, UNPACKING_FILESTORE, VERIFY_LOADED, VERIFY_CHECKED)

# the operator (`controllers.jobs`), which uses `pause` too: the batch Job of a job
# resource is created, and not yet recorded in the resource's status
BATCH_JOB_CREATED = "operator.batch_job_created"


async def pause(point: str) -> None:
    """Record `point`; if it is the one to hold at, wait until the job is stopped."""
    directory = os.environ.get(PAUSE_DIR)
    if not directory:
        return
    Path(directory, f"{point}.reached").touch()  # noqa: ASYNC240 - tests only, one inode
    if os.environ.get(PAUSE_AT) == point:
        await asyncio.Event().wait()  # never set: only a stop request ends this


def pause_in_worker(point: str, run: Callable[[Coroutine[Any, Any, None]], None]) -> None:
    """`pause` from a worker thread; `run` is its bridge's `run`, which a stop interrupts."""
    if os.environ.get(PAUSE_DIR):
        run(pause(point))
