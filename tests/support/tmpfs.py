"""A small tmpfs of a test's own, to fill up: full-disk tests of the store, the daemon and `build --out`.

    with small_tmpfs("8m") as disk:       # skipped unless root (failed under CI=true)
        ...
        filler = fill(disk)               # the disk is full now
        filler.unlink()                   # and has room again
"""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(size: str = "8m") -> Iterator[Path]:
    """Mount a tmpfs of SIZE on a fresh directory for the block (root only); yield its path."""
    problem = None if os.geteuid() == 0 else "il faut être root pour monter un tmpfs"
    root = Path(tempfile.mkdtemp(prefix="cnam-full-"))
    if problem is None:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(root)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            problem = f"mount -t tmpfs impossible : {done.stderr.strip()}"
    if problem is not None:
        root.rmdir()
        if os.environ.get("CI") == "true":
            pytest.fail(f"disque plein simulé impossible ({problem}) ; CI=true l'exige")
        pytest.skip(f"disque plein simulé impossible : {problem}")
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True)
        root.rmdir()


def fill(disk: Path, *, leave: int = 0) -> Path:
    """Write a file on DISK until it is full (but LEAVE bytes, rounded to pages); return the file."""
    filler = disk / f"filler-{len(list(disk.glob('filler-*')))}"
    chunk = b"\0" * (1 << 16)
    with open(filler, "wb") as f:
        try:
            while True:
                free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
                if free <= leave:
                    break
                f.write(chunk if free - leave >= len(chunk) else chunk[:max(free - leave, 1)])
                f.flush()
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
    return filler
