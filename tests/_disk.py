"""A full disk, simulated: every atomic write of the named files fails as ENOSPC does."""

from __future__ import annotations

import errno
import os
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
