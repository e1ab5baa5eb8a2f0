"""A full disk, simulated: every atomic write of the named files fails as ENOSPC does (at its end, or as it begins)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


def full_disk_for(monkeypatch, *names: str) -> None:
    """Make every atomic write (``m5kit.store``'s final ``os.replace``) of a file named in ``names`` fail as a full disk
    does; with no names, every file's. ``monkeypatch`` may be a ``monkeypatch.context()``."""
    real = os.replace

    def replace(src, dst):
        if not names or Path(dst).name in names:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr("m5kit.store.os.replace", replace)


def full_disk_as_begun(monkeypatch, name: str) -> None:
    """Make the temporary file of an atomic write of ``name`` fail to be made, as a full disk does: the writes before it
    in the same set are done (``m5kit.store.write_together``), none is renamed into place."""
    real = tempfile.mkstemp

    def mkstemp(*args, prefix="", **kwargs):
        if prefix.startswith(f".{name}."):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
