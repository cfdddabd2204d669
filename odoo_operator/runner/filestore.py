"""An Odoo filestore read for a backup and written back for a restore.

Guarantees:
- `walk` yields the regular files under a directory in a stable (sorted) order with their
  paths relative to it. Symlinks and special files are skipped, never followed. Odoo
  keeps writing while a backup runs, so a file that vanished between listing and
  reading is skipped and counted, not an error.
- `FilestoreWriter` only ever creates files and directories inside its root: an entry
  name that is absolute, empty, or has `.`/`..` components is refused (`JobError`), a
  name seen twice is refused, and nothing is written through a symlink.
- Files and directories are chowned to Odoo's uid/gid (100:101) where the process is
  permitted to; where not, the first refusal is noted and ownership is left as is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from odoo_operator.runner.errors import JobError

ODOO_UID = 100
ODOO_GID = 101
FILE_MODE = 0o644
DIRECTORY_MODE = 0o755


@dataclass(frozen=True)
class FilestoreFile:
    relative: str  # POSIX path relative to the filestore root
    path: Path
    mtime: float
    mode: int


def walk(root: Path) -> Iterator[FilestoreFile]:
    """Regular files under `root`, directories and names in sorted order."""
    for directory, subdirectories, names in os.walk(root):
        subdirectories.sort()
        base = Path(directory)
        for name in sorted(names):
            path = base / name
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode):
                relative = path.relative_to(root).as_posix()
                yield FilestoreFile(relative, path, info.st_mtime, info.st_mode)


def open_for_backup(file: FilestoreFile) -> BinaryIO | None:
    """The file opened for reading without following a symlink; None if it vanished."""
    try:
        descriptor = os.open(file.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:  # replaced by a symlink since the listing
            return None
        raise JobError(f"cannot read filestore file {file.path}: {error.strerror}") from None
    return os.fdopen(descriptor, "rb")


def safe_relative(name: str) -> PurePosixPath:
    """An archive entry name as a path that stays inside the filestore, or JobError."""
    path = PurePosixPath(name)
    parts = name.rstrip("/").split("/")
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise JobError(f"refusing archive entry {name!r}: it would leave the filestore")
    return path


def ensure_filestore_root(filestore: Path) -> None:
    """Create Odoo's `filestore/` directory when the volume is fresh (Odoo creates it on
    its first start; a restore into a never-started instance comes first). The data
    directory above it must exist: a missing one means a wrong path, not a fresh volume."""
    root = filestore.parent
    if root.is_dir():
        return
    if not root.parent.is_dir():
        raise JobError(
            f"--filestore {str(filestore)!r}: Odoo's data directory {str(root.parent)!r} "
            "does not exist"
        )
    root.mkdir(mode=DIRECTORY_MODE)
    with contextlib.suppress(PermissionError):  # not root: it is ours (the Job runs as Odoo)
        os.chown(root, ODOO_UID, ODOO_GID, follow_symlinks=False)


class FilestoreWriter:
    """Creates the restored filestore under `root` (which must not exist yet)."""

    def __init__(self, root: Path, note: Callable[[str], None]) -> None:
        self.root = root
        self._note = note
        self._chown = True
        self.files = 0
        self.bytes = 0
        root.mkdir(mode=DIRECTORY_MODE)
        self._own(root)

    def _own(self, path: Path, descriptor: int | None = None) -> None:
        if not self._chown:
            return
        try:
            if descriptor is not None:
                os.fchown(descriptor, ODOO_UID, ODOO_GID)
            else:
                os.chown(path, ODOO_UID, ODOO_GID, follow_symlinks=False)
        except PermissionError:
            self._chown = False
            self._note(f"not permitted to chown the filestore to {ODOO_UID}:{ODOO_GID}")

    def _directory(self, relative: PurePosixPath) -> Path:
        current = self.root
        for part in relative.parts:
            current = current / part
            try:
                current.mkdir(mode=DIRECTORY_MODE)
                self._own(current)
            except FileExistsError:
                if not stat.S_ISDIR(current.lstat().st_mode):
                    raise JobError(
                        f"refusing archive entry under {relative}: "
                        "a file and a directory share the name"
                    ) from None
        return current

    def add_directory(self, name: str) -> None:
        self._directory(safe_relative(name))

    def add_file(self, name: str, chunks: Iterator[bytes]) -> None:
        relative = safe_relative(name)
        directory = self._directory(relative.parent)
        path = directory / relative.name
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            descriptor = os.open(path, flags, FILE_MODE)
        except FileExistsError:
            raise JobError(f"refusing archive entry {name!r}: it appears twice") from None
        with os.fdopen(descriptor, "wb") as out:
            self._own(path, out.fileno())
            for chunk in chunks:
                out.write(chunk)
                self.bytes += len(chunk)
        self.files += 1
