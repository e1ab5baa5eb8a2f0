"""The model store: one folder holding a run's fitted per-group models.

Layout::

    <store>/manifest.json            run parameters, versions, data fingerprint, per-group summary
    <store>/groups/<name>.<model>    the group's model in its library's own format (see below)
    <store>/groups/<name>.pkl        the fitted Windower, the estimator without that model, and what
                                     the estimator keeps beside it (the forecaster: its fit-time
                                     forecast, so that a rerun need not forecast again)
    <store>/groups/<name>.json       the group's record: fingerprint, seconds, losses, store kind,
                                     model file and its SHA-256 (written last)

The model file depends on the estimator (:mod:`m5kit._savers` holds one saver
per kind): ``.keras`` for m5kit's Keras engine, ``.lgb.txt`` (LightGBM's text
format) for LightGBM, ``.ubj`` (XGBoost's UBJSON) for XGBoost; any other
estimator is pickled whole in the ``.pkl`` file. The store imports none of
these libraries: Keras models are handed back as ``.keras`` bytes and loaded
when first used, LightGBM and XGBoost only when such a group is loaded.

Every file is written to a temporary name in the same folder and renamed, so
a crash never leaves a file that looks complete but is not; a group counts
as stored only once its ``.json`` record exists, and that is written after
its model files (and removed before they are replaced). A killed process may
leave a hidden temporary file (``.<name>.<random>.tmp``); the next run in
the folder removes it. Model files are code (pickle): load stores only from
sources you trust.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import pickle
import re
import socket
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from m5kit import _checks, _savers
from m5kit.errors import M5kitError, StoreError

__all__ = ["ModelStore", "atomic_write", "write_together", "holds_files", "remove_temp_files", "params_token", "frame_fingerprint", "library_versions",
           "file_stats", "changed_files", "RunLockedError", "lock_folder", "unlock_folder", "refuse_live_lock", "read_lock"]

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1
TRUST = "model files are pickles (code): load this store only from a source you trust"
#: What to do about a group that cannot be loaded: a fit with the store fits it again (GroupedEstimator's resume).
REFIT = "run the same fit (`m5kit train` command) again to refit it"
_TEMP = re.compile(r"\..+\.tmp(\.[A-Za-z0-9]+)?\Z")


def _file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 less the umask): mkstemp's is 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _new_temp(path: Path, suffix: str = "") -> tuple[int, str]:
    """A temporary file beside ``path`` (hidden name, same folder), with a normal file mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.fchmod(fd, _file_mode())
    return fd, tmp


def file_in_the_way(path: str | os.PathLike) -> Path | None:
    """A file among the folders above ``path`` (so ``path`` cannot be made or written), if any."""
    return next((parent for parent in Path(path).parents if parent.exists() and not parent.is_dir()), None)


def is_temp_file(name: str) -> bool:
    """True for the name of a temporary file of :func:`atomic_write`."""
    return _TEMP.match(name) is not None


def holds_files(folder: str | os.PathLike, besides=None) -> bool:
    """Whether ``folder`` holds anything but the temporary files a killed :func:`atomic_write` left (and the names
    the predicate ``besides`` accepts): a folder of nothing else is as good as empty for a new output."""
    folder = Path(folder)
    return folder.is_dir() and any(not is_temp_file(f.name) and not (besides and besides(f.name))
                                   for f in folder.iterdir())


def remove_temp_files(folder: str | os.PathLike, names=None) -> list[Path]:
    """Remove the temporary files that a killed writer left in ``folder``.

    Only names that :func:`atomic_write` makes (``.<name>.<random>.tmp``,
    optionally with a suffix such as ``.keras``) are touched. Call it only
    when no other process writes to the folder (m5kit does, when a run
    starts or resumes).

    Parameters
    ----------
    folder : path
        The folder to clean (nothing happens when it is not a folder).
    names : iterable of str, optional
        Only the temporary files of these files (``.<name>.<random>.tmp``):
        in a folder of the user's (a data folder, ``--out .``), a hidden
        ``.notes.txt.tmp`` of theirs is none of m5kit's.

    Returns
    -------
    list of Path
        The files removed.
    """
    folder = Path(folder)
    prefixes = None if names is None else tuple(f".{name}." for name in names)
    removed = []
    if folder.is_dir():
        for f in folder.iterdir():
            if f.is_file() and is_temp_file(f.name) and (prefixes is None or f.name.startswith(prefixes)):
                with contextlib.suppress(OSError):
                    f.unlink()
                    removed.append(f)
    if removed:
        logger.info("removed %d temporary file(s) left by an interrupted run in %s", len(removed), folder)
    return removed


def new_folders(path: str | os.PathLike | None) -> list[Path]:
    """The folders of ``path`` (itself and those above it) that do not exist yet, nearest first: those a command that
    makes ``path`` creates, and removes again (:func:`undo_claim`) when it stops before writing anything."""
    return [] if path is None else [p for p in (Path(path), *Path(path).parents) if not p.exists()]


def undo_claim(file: str | os.PathLike | None, folders: Iterable[Path]) -> None:
    """Remove what a command left before it wrote anything: ``file`` (a record it made, or None) and each of
    ``folders`` (:func:`new_folders`, nearest first) that is empty (a folder with files, gone, or not ours: kept)."""
    if file is not None:
        Path(file).unlink(missing_ok=True)
    for folder in folders:
        with contextlib.suppress(OSError):  # os.rmdir removes no files
            folder.rmdir()


def file_stats(folder: str | os.PathLike, names, content: bool = False) -> dict[str, list | None]:
    """Size and modification time (ns) of each file ``names`` of ``folder`` (None for a missing one).

    What a run records of the data files it read, to notice later that they changed
    (:func:`changed_files`).

    Parameters
    ----------
    folder : path
        The data folder.
    names : iterable of str
        The files' names in it.
    content : bool, default=False
        Also record each file's SHA-256 (what is recorded, to tell later a file
        only touched from one edited; about 1.5 GB/s, less than reading the CSV).

    Returns
    -------
    dict
        Name -> ``[size, mtime_ns]`` (``[size, mtime_ns, sha256]`` with
        ``content``), or None where the file cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.csv").write_text("x")
    >>> stats = file_stats(folder, ["a.csv", "b.csv"], content=True)
    >>> stats["a.csv"][0], len(stats["a.csv"][2]), stats["b.csv"]
    (1, 64, None)
    """
    stats: dict[str, list | None] = {}
    for name in names:
        try:
            st = (Path(folder) / name).stat()
            stats[name] = [st.st_size, st.st_mtime_ns] + ([_file_digest(Path(folder) / name)] if content else [])
        except OSError:
            stats[name] = None
    return stats


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()  # hashlib.file_digest is Python 3.11's, and setup.cfg admits 3.10
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def changed_files(folder: str | os.PathLike, recorded: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """The files whose content differs from what :func:`file_stats` recorded.

    A file of the same size and modification time is the same; one of another
    size, or missing, differs. A file of the same size with another
    modification time (touched, copied, checked out again) is compared by
    content, when the record holds its SHA-256 (``content=True``): the file is
    hashed only then.

    Parameters
    ----------
    folder : path
        The data folder.
    recorded : mapping
        :func:`file_stats` of the files then (with ``content=True``, or not).
    now : mapping
        :func:`file_stats` of the same files now (usually without content).

    Returns
    -------
    list of str
        The names of ``now`` whose file changed, in its order.
    """
    changed = []
    for name, state in now.items():
        then = recorded.get(name)
        if then is None or state is None:
            same = then == state
        elif then[0] != state[0]:
            same = False  # another size
        elif then[1] == state[1]:
            same = True
        elif len(then) > 2:  # touched, perhaps: the content says
            try:
                same = (state[2] if len(state) > 2 else _file_digest(Path(folder) / name)) == then[2]
            except OSError:
                same = False
        else:  # recorded without its content (by an older m5kit)
            same = False
        if not same:
            changed.append(name)
    return changed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", suffix: str = ""):
    """Open a temporary file beside ``path``; rename it over ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    ``suffix`` is kept at the end of the temporary name (Keras checks it).

    Parameters
    ----------
    path : path
        The file to write; its folder is created if missing.
    mode : str, default="wb"
        The mode of the temporary file (``"w"`` for text, written as UTF-8 whatever the locale).
    suffix : str, default=""
        Kept at the end of the temporary file's name (``".keras"``).

    Yields
    ------
    file object
        The open temporary file; flushed, synced to disk and renamed over
        ``path`` when the block ends without an exception.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_write(target, "w") as fh:
    ...     _ = fh.write("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    fd, tmp = _new_temp(path, suffix)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:  # as the readers read it
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_together(writes: Mapping[str | os.PathLike, Any], mode: str = "w") -> None:
    """Write several files as one: each whole to a hidden temporary file beside it (:func:`atomic_write`'s), and
    only when all are written, all renamed into place.

    A failure while writing (a full disk, Ctrl-C) leaves every one of the files as it was: a folder never holds some
    new files beside old ones of the same set. A killed writer leaves only temporary files
    (:func:`remove_temp_files` removes them).

    Parameters
    ----------
    writes : mapping of path to callable
        Each file and the function that writes its content to an open file.
    mode : str, default="w"
        As :func:`atomic_write`'s.
    """
    for path in writes:  # os.replace fails on it after the files before it were replaced: a mix of old and new
        if Path(path).is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    staged: list[tuple[Path, str]] = []
    try:
        for path, write in writes.items():
            path = Path(path)
            fd, tmp = _new_temp(path)
            staged.append((path, tmp))
            with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
        while staged:
            path, tmp = staged[0]
            os.replace(tmp, path)
            staged.pop(0)
    except BaseException:
        for _, tmp in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_write(path, suffix=path.suffix) as fh:
        fh.write(data)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that a stored model depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("m5kit", "keras", "tensorflow-cpu", "tensorflow", "torch", "jax", "scikeras", "lightgbm", "xgboost", "scikit-learn", "numpy", "pandas", "dask", "distributed"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    out["keras_backend"] = os.environ.get("KERAS_BACKEND", "tensorflow")
    return out


_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


def _stable_repr(value: Any) -> str:
    """``repr`` without what changes between processes (memory addresses)."""
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__") and not hasattr(value, "get_params")):
        return f"{getattr(value, '__module__', '?')}.{value.__qualname__}"  # functions and classes: by name
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_stable_repr(v)}" for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))) + "}"
    if isinstance(value, (list, tuple)):
        return type(value).__name__ + "(" + ", ".join(_stable_repr(v) for v in value) + ")"
    return _ADDRESS.sub("", repr(value))


def params_token(params: Mapping[str, Any]) -> str:
    """A short hash of estimator parameters, the same in every process.

    Functions and classes count by their qualified name, other values by
    their ``repr`` without memory addresses: a run resumed in a new process
    recognises its own store.

    Parameters
    ----------
    params : mapping
        Parameters by name (``get_params()``); the order does not matter.

    Returns
    -------
    str
        16 hex digits (the start of a SHA-256).

    Examples
    --------
    >>> params_token({"model": len}) == params_token({"model": len})
    True
    """
    text = json.dumps({k: _stable_repr(v) for k, v in sorted(params.items())}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def frame_fingerprint(frame) -> str:
    """A stable hash of a DataFrame's values, columns and dtypes.

    Parameters
    ----------
    frame : DataFrame
        Hashed without its index.

    Returns
    -------
    str
        16 hex digits (the start of a SHA-256).
    """
    import pandas as pd

    h = hashlib.sha256()
    h.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _file_stem(name: str) -> str:
    """A file name for a group: readable, and unique even if characters were replaced."""
    safe = _UNSAFE.sub("_", name)[:80] or "group"
    if safe != name:
        safe += "-" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return safe


class ModelStore:
    """A folder of fitted per-group models with a JSON manifest.

    Parameters
    ----------
    path : str or Path
        The store's folder (created on first write).

    Examples
    --------
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     store = ModelStore(tmp)
    ...     run = store.open_run({"level": 11, "params": "abc"})["run"]
    ...     stored = store.records()
    >>> run, stored
    ({'level': 11, 'params': 'abc'}, {})
    """

    def __init__(self, path: str | os.PathLike):
        self.path = _checks.path(path, "path", "the model store's folder")

    # -- run -------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    def read_manifest(self) -> dict | None:
        """The manifest, or None for an empty folder."""
        if not self.manifest_path.exists():
            return None
        try:
            manifest = json.loads(self.manifest_path.read_text())
            if not isinstance(manifest, dict):
                raise ValueError(f"it holds a JSON {type(manifest).__name__}, not an object")
            return manifest
        except (OSError, ValueError) as exc:
            raise StoreError(f"the model store manifest {self.manifest_path} is unreadable ({exc}): remove the folder or choose another") from None

    def open_run(self, run: Mapping[str, Any], *, overwrite: bool = False) -> dict:
        """Start or resume a run in this store.

        ``run`` describes the run (parameters token, level, fingerprint, ...).
        A store holding a different run raises :class:`StoreError` unless
        ``overwrite`` (which empties it first). Temporary files left by a
        killed run are removed. An ``overwrite`` neither False nor True is a
        :class:`~m5kit.errors.ParamError` (the text ``'no'`` emptied the store).
        """
        overwrite = _checks.choice(overwrite, "overwrite", (False, True))
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"the model store {self.path} is a file, not a folder: choose a folder")
        remove_temp_files(self.path)
        remove_temp_files(self.path / "groups")
        manifest = self.read_manifest()
        if manifest is None and self.path.is_dir() and any(self.path.iterdir()):
            raise StoreError(f"the folder {self.path} is not empty and holds no m5kit run: choose an empty or new folder")
        if manifest is not None and dict(manifest.get("run", {})) != dict(run):
            if not overwrite:
                diff = sorted(k for k in set(run) | set(manifest.get("run", {})) if manifest.get("run", {}).get(k) != run.get(k))
                raise StoreError(
                    f"the model store {self.path} holds a different run (differs in {', '.join(diff)}): "
                    "choose another folder or pass overwrite=True (`m5kit train --overwrite`)"
                )
            self.clear()
            manifest = None
        if manifest is None:
            manifest = {"format": FORMAT, "run": dict(run), "versions": library_versions(), "created": time.time(), "groups": {},
                        "warning": TRUST}
            self.write_manifest(manifest)
        return manifest

    def clear(self) -> None:
        """Remove this store's files (only files m5kit writes)."""
        groups = self.path / "groups"
        if groups.is_dir():
            for f in groups.iterdir():
                if f.name.endswith(_SUFFIXES) or f.name.startswith("."):
                    f.unlink()
            if not any(groups.iterdir()):  # left empty, it made the store "not empty" to open_run
                groups.rmdir()
        self.manifest_path.unlink(missing_ok=True)

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Write ``manifest`` as the store's manifest file, atomically (replacing it).

        Parameters
        ----------
        manifest : mapping
            Written as JSON (keys sorted); values JSON cannot hold are written as their ``str``.

        Raises
        ------
        StoreError
            The file cannot be written (a full disk, no permission); the manifest written before is kept whole.
        """
        try:
            with atomic_write(self.manifest_path, "w") as fh:
                json.dump(manifest, fh, indent=1, sort_keys=True, default=str)
        except OSError as exc:
            raise StoreError(f"cannot write the model store manifest {self.manifest_path} ({exc.strerror or exc}): "
                             "free disk space or choose another folder, then run again to resume") from None

    def finish(self, extra: Mapping[str, Any] | None = None) -> dict:
        """Rewrite the manifest with every stored group's record."""
        manifest = self.read_manifest() or {}
        manifest["groups"] = self.records()
        manifest["updated"] = time.time()
        manifest.update(extra or {})
        self.write_manifest(manifest)
        return manifest

    def mark_unfinished(self) -> None:
        """Mark the store's fit as running again (:meth:`finish` marks it finished): a fit that stores a group in a
        finished store and is killed before its end leaves a store :meth:`check_finished` refuses."""
        manifest = self.read_manifest()
        if manifest is not None and "updated" in manifest:
            del manifest["updated"]
            self.write_manifest(manifest)

    def failed_refits(self, stored: Iterable[str] | None = None, manifest: Mapping[str, Any] | None = None) -> list[str]:
        """The groups the last fit failed to fit that still have a stored model: one of the data before (a refit on
        changed data that fails keeps the group's old files), not of the data that fit was given.

        ``stored``: the names of the stored groups (:meth:`records`), ``manifest``: :meth:`read_manifest`; both are
        read by default. A group whose first fit failed has no model: it is not one of them.
        """
        manifest = (self.read_manifest() or {}) if manifest is None else manifest
        stored = set(self.records() if stored is None else stored)
        failed = manifest.get("failed")
        return [name for name in failed if name in stored] if isinstance(failed, dict) else []

    def check_finished(self, records: Mapping[str, Any] | None = None) -> None:
        """Raise :class:`StoreError` unless the fit that wrote this store ran to its end (:meth:`finish`), every
        group it stored still has its record (a refit killed midway removed one) and no stored group is one its fit
        failed to refit (:meth:`failed_refits`); ``records``: :meth:`records`."""
        manifest = self.read_manifest() or {}
        records = self.records() if records is None else records
        again = "run the same fit (`m5kit train` command) again to finish it, then load it"
        if "updated" not in manifest:
            raise StoreError(f"the model store {self.path} is unfinished: its fit stopped before the end "
                             f"({len(records)} group(s) stored): {again}")
        stored = manifest.get("groups")
        missing = [name for name in stored if name not in records] if isinstance(stored, dict) else []
        if missing:
            names = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            raise StoreError(f"the model store {self.path} is unfinished: {len(missing)} group(s) its fit stored "
                             f"have no record ({names}): {again}")
        failed = self.failed_refits(records, manifest)
        if failed:
            names = ", ".join(failed[:3]) + (", ..." if len(failed) > 3 else "")
            raise StoreError(f"the model store {self.path} is unfinished: its fit failed to fit {len(failed)} group(s) "
                             f"({names}), which keep their model of the old data: fix the cause and run the same fit "
                             "(`m5kit train` command) again, then load it")

    # -- groups ----------------------------------------------------------------------
    def _file(self, name: str, suffix: str) -> Path:
        return self.path / "groups" / (_file_stem(name) + suffix)

    def _record_path(self, name: str) -> Path:
        """The group's record: named as now, else as stores named it before per-kind savers."""
        path = self._file(name, ".json")
        legacy = _legacy_file(self._file(name, ""), ".json")
        return legacy if not path.exists() and legacy.exists() else path

    def _group_files(self, name: str, record: Mapping[str, Any]) -> tuple[_savers.Saver, Path, Path | None]:
        """The saver, the .pkl file and the model file (None: none) of a stored group, from its record."""
        kind = record.get("store_kind")
        if kind is None:  # written before stores knew other kinds: .keras and .pkl, named by Path.with_suffix
            stem = self._file(name, "")
            return _savers.SAVERS["keras"], _legacy_file(stem, ".pkl"), _legacy_file(stem, ".keras")
        saver = _savers.saver(kind, whose=f"group {name!r} in the model store {self.path}")
        model = record.get("model_file")
        return saver, self._file(name, ".pkl"), None if model is None else self.path / "groups" / Path(model).name

    def _all_files(self, name: str) -> list[Path]:
        """Every file the group may have, of any kind (the suffixes keep the names of two groups apart)."""
        return [self._file(name, suffix) for suffix in _SUFFIXES]

    def records(self) -> dict[str, dict]:
        """Records of every fully stored group, keyed by group name.

        Each record holds what the fit recorded, plus ``store_kind`` (the
        saver: keras, lightgbm, xgboost or pickle), ``model_file`` and
        ``model_sha256`` (checked when the group is loaded).
        """
        out = {}
        folder = self.path / "groups"
        if not folder.is_dir():
            return out
        for f in sorted(folder.glob("*.json")):
            if f.name.startswith("."):
                continue
            try:
                rec = json.loads(f.read_text())
            except (OSError, json.JSONDecodeError):
                rec = None
            if not isinstance(rec, dict) or not isinstance(rec.get("group"), str):
                logger.warning("ignoring unreadable group record %s", f)
                continue
            out[rec["group"]] = rec
        return out

    def stored(self, fingerprints: Mapping[str, str]) -> set[str]:
        """Groups already stored with the same data fingerprint (and the complete files of their kind)."""
        done = set()
        for name, rec in self.records().items():
            if fingerprints.get(name) != rec.get("fingerprint"):
                continue
            _, pkl, model = self._group_files(name, rec)
            if pkl.exists() and (model is None or model.exists()):
                done.add(name)
        return done

    def save_group(self, name: str, windower, estimator, record: Mapping[str, Any], extra: Any = None) -> None:
        """Store one group's fitted Windower and estimator, then its record.

        The estimator's model goes to a file in its library's own format
        (see the module docs); the rest is pickled, with ``extra`` (what the
        estimator keeps beside its model: the forecaster's fit-time
        forecast; :meth:`load_group` gives it back with ``with_extra``). An older record of the
        group is removed first: until the new record is written, the group
        does not count as stored (a crash in between leaves no record
        pointing at mismatched files). When a write fails, the group's files
        are removed and :class:`StoreError` says why.
        """
        kind = _savers.kind_of(estimator)
        saver = _savers.SAVERS[kind]
        model_path = None if saver.suffix is None else self._file(name, saver.suffix)
        pkl, rec = self._file(name, ".pkl"), self._file(name, ".json")
        try:
            old = self._record_path(name)
            with contextlib.suppress(ValueError):  # a record named as before per-kind savers would outlive the new one
                if old != rec and json.loads(old.read_text()).get("group") == name:
                    old.unlink()
            for path in self._all_files(name):  # the record first; a model file of another kind would linger
                if path not in (pkl, model_path):
                    path.unlink(missing_ok=True)
            data, shell = saver.split(estimator)
            if model_path is not None:
                _atomic_write_bytes(model_path, data)
            with atomic_write(pkl) as fh:
                payload = {"group": name, "windower": windower, "estimator": shell}
                if extra is not None:
                    payload["extra"] = extra
                pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
            checksum = None if model_path is None else hashlib.sha256(data).hexdigest()  # a file cut later is named on load
            with atomic_write(rec, "w") as fh:
                json.dump({"group": name, **record, "store_kind": kind, "model_file": model_path and model_path.name,
                           "model_sha256": checksum}, fh, sort_keys=True, default=float)
        except BaseException as exc:
            for path in self._all_files(name):  # no model file of the group without its record
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            if not isinstance(exc, OSError):
                raise
            raise StoreError(
                f"cannot write group {name!r} to the model store {self.path} ({type(exc).__name__}: {exc}): "
                "free disk space or choose another output folder, then run again to resume"
            ) from None

    def load_group(self, name: str, *, with_extra: bool = False) -> tuple:
        """Load one group: ``(windower, estimator, record)``, and its ``extra`` last with ``with_extra``.

        A Keras model is attached as its ``.keras`` bytes and loaded when
        first used; LightGBM and XGBoost boosters are rebuilt here. A group
        stored without ``extra`` (or by an m5kit that did not keep it) gives
        None.
        """
        try:
            record = json.loads(self._record_path(name).read_text())
            saver, pkl, model = self._group_files(name, record)
            with open(pkl, "rb") as fh:
                payload = pickle.load(fh)
            data = None if model is None else model.read_bytes()
            _check_model_file(model, data, record.get("model_sha256"))
            estimator = saver.join(payload["estimator"], data)
        except (OSError, pickle.UnpicklingError, EOFError, KeyError, ValueError, UnicodeDecodeError) as exc:
            said = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # XGBoost's errors go on with a stack trace
            raise StoreError(f"group {name!r} in the model store {self.path} cannot be loaded ({said}): {REFIT}") from None
        if with_extra:
            return payload["windower"], estimator, record, payload.get("extra")
        return payload["windower"], estimator, record

    def load_groups(self, names: Iterable[str]) -> dict[str, tuple[Any, Any, dict]]:
        """Load several groups (see :meth:`load_group`).

        Parameters
        ----------
        names : iterable of str
            The groups to load.

        Returns
        -------
        dict of str to tuple
            Group name -> ``(windower, estimator, record)``.

        Raises
        ------
        StoreError
            A group's files are missing or cannot be loaded.
        """
        return {name: self.load_group(name) for name in names}


def _check_model_file(path: Path | None, data: bytes | None, checksum: str | None) -> None:
    """A ValueError when a model file differs from the one stored (its record's SHA-256; older records have none).

    Checked before the model's library reads it: LightGBM aborts the process on a cut text file, and XGBoost may
    try to allocate memory without bound.
    """
    if path is None or data is None or not checksum or hashlib.sha256(data).hexdigest() == checksum:
        return
    raise ValueError(f"its model file {path.name} is damaged: its {len(data):,} bytes differ from the file stored")


#: The suffixes of the files a group may have (its record, its pickle, each kind's model file).
_SUFFIXES = tuple(sorted({".json", ".pkl"} | {s.suffix for s in _savers.SAVERS.values() if s.suffix}))


def _legacy_file(stem: Path, suffix: str) -> Path:
    """A group file named as stores before per-kind savers named them (``Path.with_suffix``: a dotted name lost its tail)."""
    try:
        return stem.with_suffix(suffix)
    except ValueError:  # a name with no stem left ("."): it could not have been stored that way
        return stem.parent / (stem.name + suffix)


# --- a folder's lock: one command at a time in a run folder ---------------------------------

class RunLockedError(M5kitError, RuntimeError):
    """Another run is using the run folder (or may be: its lock cannot be checked from this host)."""


def _boot_id() -> str | None:
    """This boot of the machine (Linux), to tell a lock from before a restart; None elsewhere."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _started(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), to tell a reused pid; None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[19])  # field 22, after the name in parentheses
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (one of another user counts; a killed one that its parent has
    not yet waited for, a zombie, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # cannot tell: assume it runs
        return True
    try:  # a zombie still answers the signal (Linux: its state in /proc)
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X")
    except (OSError, ValueError, IndexError):
        return True


def read_lock(path: Path) -> dict | None:
    """The lock's record; None if there is no lock, {} if it cannot be read."""
    try:
        record = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    ok = isinstance(record, dict) and isinstance(record.get("pid"), int) and isinstance(record.get("host"), str)
    return record if ok else {}


def _gone(record: dict) -> bool:
    """Whether the run that holds the lock ``record`` is certainly no longer running (checked on its own host)."""
    if record.get("host") != socket.gethostname():
        return False
    boot = _boot_id()
    if record.get("boot_id") and boot and record["boot_id"] != boot:  # taken before the machine restarted
        return True
    if not _alive(record["pid"]):
        return True
    started = _started(record["pid"])  # the pid is alive, but is it still that run's process?
    return record.get("started") is not None and started is not None and started != record["started"]


def _create_lock(path: Path, record: dict) -> bool:
    """Create the lock file holding ``record`` if there is none (atomically); whether it was created.

    The record is written to a file of this process's own and then linked to
    the lock's name, which fails if the lock exists: another run never reads a
    half-written lock. Where the file system has no links, ``O_CREAT | O_EXCL``.
    """
    text = json.dumps(record, indent=1).encode()
    own = path.with_name(f"{path.name}.{record['token']}")
    try:
        with open(own, "wb") as fh:
            fh.write(text)
        os.link(own, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # no hard links here (some network and FAT file systems)
        pass
    finally:
        own.unlink(missing_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


def _remove_stale(path: Path, record: dict) -> bool:
    """Remove the stale lock ``record`` if it is still the lock; whether it was.

    It is first moved aside: of two runs taking over the same stale lock at
    once, the second would otherwise remove the lock that the first one has
    just made. A lock that is no longer ``record`` is put back.
    """
    aside = path.with_name(f"{path.name}.{uuid.uuid4().hex}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    try:
        if read_lock(aside) == record:
            return True
        try:
            os.link(aside, path)
        except OSError:
            pass
        return False
    finally:
        aside.unlink(missing_ok=True)


def _describe(record: dict) -> str:
    since = f", since {record['time']}" if record.get("time") else ""
    return f"process {record.get('pid')} on {record.get('host')}{since}"


def _a(what: str) -> str:
    """``what`` with its article: "an m5kit train" (em-five-kit), "a prod2vec run"."""
    return f"{'an' if what[:1].lower() in 'aeiou' or what.startswith('m5kit') else 'a'} {what}"


def refuse_live_lock(folder: Path, lock_file: str, what: str, other: str = "pass another --out",
                     theirs: dict | None = None) -> None:
    """A :class:`RunLockedError` if ``folder``'s lock ``lock_file`` is held by a running ``what`` (or may be).

    ``theirs``: the lock's record as already read (``{}``: unreadable); by default it is read now. A lock whose
    run is certainly gone (on this host) is no refusal. ``other``: what to do besides waiting.
    """
    path = Path(folder) / lock_file
    if theirs is None:
        theirs = read_lock(path)
        if theirs is None:
            return
    if theirs and isinstance(theirs.get("what"), str):  # the command that holds it (a train, where predict looks)
        what = theirs["what"]
    if not theirs:  # whose it is cannot be told (predict finds a train's as often as its own): no command named
        raise RunLockedError(f"{folder} holds an m5kit lock file that cannot be read ({path}): if no other run "
                             f"is using the folder, remove {path} and run again, or {other}")
    if theirs.get("host") != socket.gethostname():
        raise RunLockedError(f"{folder} is locked by {_a(what)} on another host ({_describe(theirs)}), which "
                             f"cannot be checked from here: wait for it or {other}; if that run is no "
                             f"longer running, remove {path} and run again")
    if not _gone(theirs):
        # without its start time (no /proc: macOS) a pid that another program took since is not told from the run's
        unsure = theirs.get("started") is None or _started(theirs["pid"]) is None
        raise RunLockedError(f"{folder} is in use by another {what} ({_describe(theirs)}): wait for it or {other}"
                             + (f"; if no {what} is running, process {theirs['pid']} is another program now: remove "
                                f"{path} and run again" if unsure else ""))


def lock_folder(folder: Path, lock_file: str, what: str, other: str = "pass another --out") -> dict:
    """Take ``folder``'s lock ``lock_file``: a ``what`` already using ``folder`` is a :class:`RunLockedError`.

    A lock whose run is gone (its process no longer runs on this host, or the
    machine restarted since) is taken over, with a warning. Returns the
    lock's record, for :func:`unlock_folder`.
    """
    from m5kit.errors import DataError

    path = Path(folder) / lock_file
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "boot_id": _boot_id(), "started": _started(os.getpid()),
            "time": time.strftime("%Y-%m-%d %H:%M:%S"), "token": uuid.uuid4().hex, "what": what}
    for _ in range(5):  # another run may take or release the lock between two looks
        try:
            if _create_lock(path, mine):
                return mine
        except OSError as exc:  # no permission, a full disk
            raise DataError(f"cannot write the lock file {path} ({exc.strerror or type(exc).__name__}): "
                            + ("choose another --out" if other == "pass another --out"
                               else f"make the folder writable, or {other}")) from None
        theirs = read_lock(path)
        if theirs is None:  # released just now
            continue
        refuse_live_lock(folder, lock_file, what, other, theirs)
        if _remove_stale(path, theirs):
            logger.warning("%s held the lock of %s that is no longer running (%s): taking it over",
                           folder, _a(theirs.get("what") if isinstance(theirs.get("what"), str) else what),
                           _describe(theirs))
    raise RunLockedError(f"{folder} is in use by another {what} (its lock keeps changing): wait for it or {other}")


def unlock_folder(folder: Path, lock_file: str, record: dict) -> None:
    """Remove the lock ``record`` took (and not one that another run has taken since)."""
    path = Path(folder) / lock_file
    if read_lock(path) == record:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # not to hide the run's own error: the next run on this host takes the lock over
            logger.warning("could not remove the lock %s (%s)", path, exc.strerror or type(exc).__name__)
