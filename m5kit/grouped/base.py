"""BaseGrouped: the per-group machinery shared by every grouped estimator.

It splits the rows into groups (an M5 level, group columns, or the ``group``
column of :class:`~m5kit.transformers.LevelAggregator`), sends one task per
group through :func:`m5kit.execution.cluster.run_tasks` (in this process, on
a LocalCluster, or on an existing Dask cluster), retries work lost with a
worker, saves each group to a :class:`~m5kit.store.ModelStore` as it
finishes and resumes from it, keeps the groups that were skipped or failed,
and reports each group's fit in ``fit_report_``.

It knows nothing of windows, Keras or forecasting. A subclass says only
what one group's work is and what to keep of it:

- ``_fit_call(name, setup)``: the module-level task function and its plain
  arguments (the group's rows are the task's data);
- ``_adopt(name, result)`` and ``_report_fields(result)``: the fitted state
  and the report record of a finished task;
- optionally ``_fit_setup``, ``_group_problems``, ``_run_params``,
  ``_store_parts`` / ``_restore``, ``_store_extra`` / ``_restore_extra``.
"""

from __future__ import annotations

import logging
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from m5kit._checks import choice, first_missing, number, optional_whole, path, whole
from m5kit._schema import GROUP
from m5kit.errors import ClusterError, DataError, GroupError, M5kitError, ParamError, StoreError
from m5kit.hierarchy import check_level, group_names, join_keys, level_keys

__all__ = ["BaseGrouped", "GroupFitError", "SkippedGroupWarning", "group_seed"]

logger = logging.getLogger(__name__)


class GroupFitError(M5kitError, RuntimeError):
    """Some groups' fits (or predictions) raised: the others finished and were kept.

    The message is one line listing each failed group with its error (the
    first few, then how many more).

    Parameters
    ----------
    failed : dict
        Group name -> error message (one line).
    n_ok : int, optional
        Groups that did not fail (said in the message).
    stage : str, default="fit"
        What failed (``"fit"``, ``"forecast"``, ``"predict"``).
    stored : bool
        Whether the other groups were saved to a model store.

    Attributes
    ----------
    failed : dict
        Group name -> error message.

    Examples
    --------
    >>> str(GroupFitError({"CA_1": "ValueError: bad"}, n_ok=2)).split(":")[0]
    '1 group(s) failed to fit'
    """

    SHOWN = 5

    def __init__(self, failed: dict[str, str], n_ok: int | None = None, stage: str = "fit", stored: bool = False):
        self.failed = dict(failed)
        names = list(failed)[: self.SHOWN]
        more = f" and {len(failed) - self.SHOWN} more" if len(failed) > self.SHOWN else ""
        errors = set(failed.values())
        if len(failed) > 1 and len(errors) == 1:  # a setting every group refuses: its error once, not once per group
            listed = f"{', '.join(names)}{more}, each with {next(iter(errors))}"
        else:
            listed = "; ".join(f"{name} ({failed[name]})" for name in names) + (f";{more}" if more else "")
        if stage == "fit":
            if n_ok == 0:
                kept = "no group is fitted"
            else:
                others = "the other groups" if n_ok is None else f"the other {n_ok} group(s)"
                kept = f"{others} are fitted" + (" and stored" if stored else "")
            todo = "fix the cause and run again: only the failed groups are fitted again" if stored else "fix the cause and fit again"
            tail = f"{kept}; {todo}"
        else:
            tail = f"fix the cause and {stage} again"
        super().__init__(f"{len(failed)} group(s) failed to {stage}: {listed}. {tail[0].upper()}{tail[1:]}")


class SkippedGroupWarning(UserWarning):
    """Groups were left out (too short to fit): no model and no prediction for them."""


def group_seed(random_state: int | None, name: str) -> int | None:
    """The seed of one group: stable across runs, processes and orders.

    Parameters
    ----------
    random_state : int or None
        The estimator's seed.
    name : str
        The group's name.

    Returns
    -------
    int or None
        A seed in ``[0, 2**31 - 1)`` mixing ``random_state`` with the CRC-32
        of ``name``; None when ``random_state`` is None.

    Examples
    --------
    >>> group_seed(0, "CA_1") == group_seed(0, "CA_1")
    True
    """
    if random_state is None:
        return None
    return (int(random_state) * 1_000_003 + zlib.crc32(name.encode())) % (2**31 - 1)


def _no_missing_keys(X: pd.DataFrame, columns) -> None:
    """A DataError for a row without a group key (pandas 3 left it out of every group; pandas 2 grouped it as 'nan')."""
    found = first_missing(X, columns)
    if found:
        column, row, count = found
        raise DataError(f"{count} row(s) have no {column!r} to group them by (first: row {row}): "
                        "fill the column or drop those rows")


def one_line(error: BaseException, limit: int = 300) -> str:
    """``Type: message`` of an error on one line, at most ``limit`` characters."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Docstring texts of the parameters and attributes every grouped estimator shares
#: (filled into the ``%(where)s``, ``%(run)s`` and ``%(state)s`` of a class docstring by :func:`shared_doc`).
_DOCS = {
    "where": """    level : int, default=None
        Group by this M5 level's keys (1-12). None uses ``groups``, or the
        ``group`` column that :class:`~m5kit.transformers.LevelAggregator` adds.
    groups : str or list of str, default=None
        Explicit group column(s), instead of ``level`` (not with it).
    n_workers : int, default=None
        Start (or reuse) a local Dask cluster of this many single-thread
        workers. With ``n_workers``, ``scheduler`` and ``client`` all None,
        groups are fitted one after the other in this process.
    scheduler : str, default=None
        Address of an existing Dask scheduler (``tcp://host:8786``).
    client : distributed.Client, default=None
        A client you manage (not pickled with the estimator).
    store : str or Path, default=None
        Model store folder: each group is saved as soon as it is fitted, and
        a later fit with the same parameters skips groups already stored with
        the same data.
    overwrite : bool, default=False
        Let ``store`` replace a different run instead of raising.""",
    "run": """    progress : bool, default=False
        Show a progress bar (groups done / total) on stderr.
    timeout : float, default=30
        Seconds to wait for a remote scheduler.""",
    "state": """    groups_ : list of str
        Groups with a fitted model, in the order of the data.
    skipped_ : dict
        Groups skipped as too short, with the reason.
    resumed_ : list of str
        Groups loaded from ``store`` instead of being fitted again.
    retried_ : list of str
        Groups whose task was retried after losing its worker.
    failed_ : dict
        Groups whose fit raised, with the error (one line). When there are
        any, ``fit`` raises :class:`GroupFitError` after finishing and
        storing the others.""",
}


def shared_doc(cls: type) -> type:
    """Fill a grouped estimator's docstring with the shared parameter texts (class decorator)."""
    cls.__doc__ = cls.__doc__ % _DOCS
    return cls


@shared_doc
class BaseGrouped(BaseEstimator):
    """Base class of estimators that fit one clone per group of rows, on Dask or in-process.

    Not used directly. A subclass's ``__init__`` takes and stores these
    parameters with its own (scikit-learn reads the parameters from the
    subclass's signature), and the subclass implements ``_fit_call`` (and
    usually ``_adopt`` and ``_report_fields``); see :class:`GroupedEstimator`.

    Parameters
    ----------
%(where)s
    on_short : {"warn", "raise"}, default="warn"
        What to do with a group too short to fit (its task raises
        :class:`~m5kit.errors.GroupError`): skip it with a
        :class:`SkippedGroupWarning`, or raise before any group is fitted.
    retries : int, default=2
        Extra attempts for a group whose Dask worker died while fitting it.
    random_state : int or None, default=0
        Base seed; each group's seed is derived from it and the group's name.
%(run)s

    Attributes
    ----------
    estimators_ : dict
        Fitted estimator of each group, keyed by group name.
%(state)s
    fit_report_ : DataFrame
        One row per group: the subclass's fields, seconds, attempts, resumed.

    Examples
    --------
    >>> from m5kit.grouped import GroupedEstimator
    >>> issubclass(GroupedEstimator, BaseGrouped)
    True
    """

    #: What the data must hold, and what to do when it does not.
    _required_columns: tuple[str, ...] = ()
    _data_hint = "a pandas DataFrame"
    #: Why a group is skipped (its task raised GroupError), and the fix when all are.
    _short_what = "too short to fit"
    _short_fix = "give more rows per group"
    #: Columns of ``fit_report_`` between ``group`` and ``seconds``.
    _report_columns: tuple[str, ...] = ()
    #: What ``predict`` calls its work (task keys, progress bar, errors).
    _predict_stage = "predict"

    # -- what a subclass says -------------------------------------------------------------
    def _fit_setup(self, parts: dict[str, Any]) -> Any:
        """Check the subclass's parameters and prepare what every group's task needs."""
        return None

    def _fit_call(self, name: str, setup: Any) -> tuple[Callable, tuple]:
        """The module-level function fitting one group, and its arguments after the group's rows."""
        raise NotImplementedError

    def _before_tasks(self, parts: dict[str, Any], to_fit: list[str], setup: Any) -> Any:
        """Work to do once before the groups ``to_fit`` are sent (after resuming); returns the setup they get."""
        return setup

    def _group_problems(self, parts: dict[str, Any], setup: Any) -> dict[str, str]:
        """Groups too short to fit, with the reason (checked before anything is sent)."""
        return {}

    def _adopt(self, name: str, result: Any) -> None:
        """Keep one group's fitted state from its task's result."""
        self.estimators_[name] = result["estimator"]

    def _report_fields(self, result: Any) -> dict:
        """The fields of one group's ``fit_report_`` row (and store record)."""
        return {}

    def _run_params(self, setup: Any) -> tuple[dict, str]:
        """Parameters that identify the run in a store, and the estimator's name."""
        params = self.get_params(deep=True)
        for key in ("n_workers", "scheduler", "client", "store", "overwrite", "on_short", "retries", "progress", "timeout"):
            params.pop(key, None)
        return params, type(getattr(self, "estimator", None)).__name__

    def _store_parts(self, result: Any) -> tuple[Any, Any]:
        """``(companion, estimator)`` of a task's result, as :meth:`ModelStore.save_group` takes them.

        The companion is what the estimator needs beside it (the forecaster's
        fitted windower; None here); :meth:`_restore` gets both back.
        """
        return None, result["estimator"]

    def _restore(self, name: str, companion: Any, estimator: Any) -> None:
        """Keep one group loaded from the store."""
        self.estimators_[name] = estimator

    def _store_extra(self, result: Any) -> Any:
        """What to store beside a group's model (picklable; None: nothing), given back to :meth:`_restore_extra`."""
        return None

    def _restore_extra(self, name: str, extra: Any) -> None:
        """Keep what :meth:`_store_extra` stored for a group (None for stores written without it)."""

    def _reset(self) -> None:
        """Empty the fitted state before a fit (subclasses add their own attributes)."""
        self.estimators_ = {}

    # -- parameters -------------------------------------------------------------------------
    def _check_params(self) -> None:
        choice(self.on_short, "on_short", ("warn", "raise"))
        choice(self.overwrite, "overwrite", (False, True))  # the text 'no' was read as true: a different run's store wiped
        choice(self.progress, "progress", (False, True))  # the text 'False' showed the bar
        if self.level is not None:
            check_level(self.level)
        if self.level is not None and self.groups is not None:  # groups= was used, level= ignored without a word
            raise ParamError(f"{type(self).__name__} got both level={self.level!r} and groups={self.groups!r}: give one "
                             "of them (level groups by an M5 level's keys, groups by your columns)")
        if self.groups is not None and not isinstance(self.groups, str):
            try:
                columns = list(self.groups)
            except TypeError:
                columns = []
            if not columns:  # join_keys read columns[0]: a bare IndexError
                raise ParamError(f"invalid groups {self.groups!r}: give a column name or a non-empty list of them "
                                 "(None groups by level)")
        whole(self.retries, "retries", minimum=0)
        if self.store is not None:  # 5 was a bare TypeError from pathlib
            path(self.store, "store", "the model store's folder")
        optional_whole(self.random_state, "random_state", minimum=0)
        number(self.timeout, "timeout", hint="the seconds to wait for the scheduler, a number > 0")
        # as open_client checks them, but before the store is claimed (a fit again with other settings was refused)
        if self.client is None and not self.scheduler:
            optional_whole(self.n_workers, "number of workers")
        elif self.client is None:
            from m5kit.execution.cluster import check_address

            check_address(str(self.scheduler))

    def _use_dask(self) -> bool:
        return self.client is not None or bool(self.scheduler) or self.n_workers is not None

    def _run(self, tasks: list, prefix: str, label: str, done: int = 0, total: int | None = None,
             on_done: Callable | None = None, after: str | None = None) -> list:
        """Run tasks here or on the cluster, with the progress bar; outcomes in the order of ``tasks``.

        ``prefix`` names the step's tasks on the dashboard (``m5kit_fit-...``);
        ``after`` the step that ``on_done`` does for each (``"store"``).
        """
        from m5kit.execution.cluster import open_client, run_tasks
        from m5kit.execution.progress import progress_bar

        with progress_bar(self.progress, len(tasks) + done if total is None else total, done, label) as advance:
            def callback(outcome):
                if on_done is not None:
                    on_done(outcome)
                advance()

            if not self._use_dask():
                return run_tasks(tasks, None, on_done=callback)
            with open_client(self.n_workers, self.scheduler, self.client, timeout=self.timeout) as client:
                return run_tasks(tasks, client, prefix=prefix, retries=int(self.retries), on_done=callback, after=after)

    # -- splitting ------------------------------------------------------------------------
    def _group_keys(self, X: pd.DataFrame) -> pd.Series:
        """The group name of every row of ``X``."""
        if self.groups is not None:
            cols = [self.groups] if isinstance(self.groups, str) else list(self.groups)
            missing = [c for c in cols if c not in X.columns]
            if missing:
                raise DataError(f"group column {missing[0]!r} is not in the data: name existing columns in groups=")
            _no_missing_keys(X, cols)
            return join_keys(X, cols)
        if self.level is not None:
            names = group_names(X, self.level)
            _no_missing_keys(X, level_keys(self.level))
            return names
        if GROUP in X.columns:
            _no_missing_keys(X, [GROUP])
            return X[GROUP].astype(str)
        raise DataError(
            f"the data has no groups: give {type(self).__name__} level= or groups=, or put LevelAggregator before it"
        )

    def _check_data(self, X) -> None:
        """A DataError unless ``X`` is a non-empty DataFrame with the required columns."""
        name = type(self).__name__
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"{name} needs {self._data_hint}; got a {type(X).__name__}")
        missing = [c for c in self._required_columns if c not in X.columns]
        if missing:
            raise DataError(f"the data has no column {missing[0]!r}: {name} needs {self._data_hint}")
        if X.empty:
            raise DataError(f"the data is empty: there is nothing to fit or {self._predict_stage}")

    def _split(self, X, y=None) -> dict[str, Any]:
        """Each group's own rows (one copy of that group's rows, nothing more); with ``y``, ``(rows, y)`` pairs."""
        self._check_data(X)
        if y is not None and len(y) != len(X):
            raise DataError(f"y has {len(y)} rows but X has {len(X)}: give one target per row")
        codes, names = pd.factorize(self._group_keys(X), sort=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        rows = {str(g): order[bounds[i] : bounds[i + 1]] for i, g in enumerate(names)}
        if y is None:
            return {g: X.iloc[r] for g, r in rows.items()}
        y = y if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
        return {g: (X.iloc[r], y.iloc[r] if hasattr(y, "iloc") else y[r]) for g, r in rows.items()}

    # -- fit --------------------------------------------------------------------------------
    def _fit_groups(self, X, y=None):
        """Fit every group (resuming from the store), keep the outcome, and raise for failures."""
        self._check_params()
        parts = self._split(X, y)
        setup = self._fit_setup(parts)
        if self.on_short == "raise":
            short = self._group_problems(parts, setup)
            if short:
                raise GroupError(self._short_message(short, stop="so nothing was fitted"))
        from m5kit.store import MANIFEST, new_folders, undo_claim

        made = new_folders(self.store)  # what a fit that gets no cluster leaves as it found it
        fresh = self.store is not None and not (Path(self.store) / MANIFEST).exists()
        store, fingerprints = self._open_store(parts, setup)

        kept = dict(self.__dict__)  # the last fit, put back when this one gets no result (no cluster, interrupted)
        self._reset()
        self.skipped_, self.failed_, self.resumed_, self.retried_ = {}, {}, [], []
        records: dict[str, dict] = {}
        tracebacks: dict[str, str] = {}
        if store is not None:
            for name in store.stored(fingerprints):
                try:
                    companion, estimator, record, extra = store.load_group(name, with_extra=True)
                except StoreError as exc:  # damaged files: the group is fitted again, as if it had not been stored
                    from m5kit.store import REFIT

                    logger.warning("%s: fitting it again", str(exc).removesuffix(f": {REFIT}"))
                    continue
                self._restore(name, companion, estimator)
                self._restore_extra(name, extra)
                records[name] = {**record, "resumed": True}
                self.resumed_.append(name)
            if self.resumed_:
                logger.info("resuming: %d of %d groups already in the store", len(self.resumed_), len(parts))

        from m5kit.execution.cluster import Task

        marked: list[bool] = []

        def unfinished():
            if not marked:  # once: the manifest of a level-12 store holds 30,490 records
                store.mark_unfinished()
                marked.append(True)

        def save(outcome):
            if outcome.ok and store is not None:
                unfinished()  # (a group fitted that the last fit had skipped, when not marked yet)
                record = {**self._record(outcome), "fingerprint": fingerprints[outcome.name]}
                store.save_group(outcome.name, *self._store_parts(outcome.result), record,
                                 extra=self._store_extra(outcome.result))

        skipped_before = set((store.read_manifest() or {}).get("skipped") or ()) if store is not None else set()
        if store is not None and any(name not in records and name not in skipped_before for name in parts):
            # groups to fit (again: their data changed): the store no longer holds a finished fit of this data, and
            # a fit killed from here on (before or after it stored a group) leaves it unfinished
            unfinished()
        try:
            setup = self._before_tasks(parts, [name for name in parts if name not in records], setup)
            tasks = []
            for name, data in parts.items():
                if name not in records:
                    func, args = self._fit_call(name, setup)
                    tasks.append(Task(name, func, data, tuple(args)))
            outcomes = self._run(tasks, "fit", "fitting groups", done=len(records), total=len(parts), on_done=save,
                                 after=None if store is None else "store")
        except BaseException as exc:
            self.__dict__.clear()
            self.__dict__.update(kept)
            # no cluster, so nothing fitted: a store this fit claimed is let go (it was "a different run")
            if isinstance(exc, ClusterError) and fresh and [p.name for p in store.path.iterdir()] == [MANIFEST]:
                undo_claim(store.manifest_path, made)
            raise
        for outcome in outcomes:
            if outcome.ok:
                self._adopt(outcome.name, outcome.result)
                records[outcome.name] = self._record(outcome)
                if outcome.attempts > 1:
                    self.retried_.append(outcome.name)
            elif isinstance(outcome.error, GroupError):
                self.skipped_[outcome.name] = str(outcome.error)
            else:
                self.failed_[outcome.name] = one_line(outcome.error)
                tracebacks[outcome.name] = outcome.traceback or self.failed_[outcome.name]
                logger.info("group %s failed to fit:\n%s", outcome.name, tracebacks[outcome.name])

        self.groups_ = [name for name in parts if name in records]
        self.fit_report_ = self._report(records, parts)
        if store is not None:
            store.finish({"n_groups": len(parts), "skipped": self.skipped_, "failed": self.failed_, "tracebacks": tracebacks})
        if self.skipped_:
            if self.on_short == "raise":
                raise GroupError(self._short_message(self.skipped_, stop="the other groups are fitted"))
            warnings.warn(self._short_message(self.skipped_), SkippedGroupWarning, stacklevel=3)
        if self.failed_:
            raise GroupFitError(self.failed_, n_ok=len(self.groups_), stored=store is not None)
        if not self.groups_:
            # each reason names its group, what it lacks and what to change (a window, a LagFeatures horizon, ...)
            reasons = "; ".join(list(self.skipped_.values())[:3]) + (
                f"; and {len(self.skipped_) - 3} more" if len(self.skipped_) > 3 else "")
            raise GroupError(f"no group could be fitted: {reasons}" if reasons else
                             f"no group could be fitted: every group is {self._short_what}; {self._short_fix}")
        return self

    def _record(self, outcome) -> dict:
        return {**self._report_fields(outcome.result), "seconds": outcome.seconds, "attempts": outcome.attempts}

    def _report(self, records: dict[str, dict], order) -> pd.DataFrame:
        cols = ["group", *self._report_columns, "seconds", "attempts", "resumed"]
        rows = [{"group": name, **records[name]} for name in order if name in records]
        frame = pd.DataFrame(rows, columns=None if rows else cols)
        for c in cols:
            if c not in frame:
                frame[c] = np.nan
        frame["resumed"] = frame["resumed"].eq(True)  # missing: not resumed (no fillna: pandas 2 warns on objects)
        return frame[cols]

    def _short_message(self, short: dict[str, str], stop: str | None = None) -> str:
        """One line about groups too short to fit: skipped, or (``stop``) why the fit stops."""
        reasons = "; ".join(list(short.values())[:3]) + (f"; and {len(short) - 3} more" if len(short) > 3 else "")
        if stop is None:
            names = ", ".join(list(short)[:10]) + (", ..." if len(short) > 10 else "")
            return f"{len(short)} group(s) {self._short_what} were skipped ({names}): {reasons}"
        return (f"{len(short)} group(s) {self._short_what}, {stop}: {reasons}. To skip such groups instead, "
                "pass on_short='warn' (`m5kit train --on-short skip`)")

    # -- store ------------------------------------------------------------------------------
    def _open_store(self, parts: dict[str, Any], setup: Any):
        """The model store of this run and each group's data fingerprint, or ``(None, None)``."""
        if self.store is None:
            return None, None
        from m5kit.store import ModelStore, params_token

        params, estimator_name = self._run_params(setup)
        store = ModelStore(self.store)
        fingerprints = {name: _fingerprint(data) for name, data in parts.items()}
        run = {"params": params_token(params), "estimator": estimator_name, "level": self.level, "groups": repr(self.groups)}
        store.open_run(run, overwrite=self.overwrite)
        return store, fingerprints

    @classmethod
    def from_store(cls, path: str | Path, **params):
        """Load a fitted estimator from a model store.

        Model files are pickles: load stores only from a source you trust.

        Parameters
        ----------
        path : str or Path
            The store folder written by a fit with ``store=path``.
        **params
            Parameters for prediction (``n_workers``, ``level`` or ``groups`` ...).
            :class:`~m5kit.grouped.GroupedEstimator` without ``horizon``
            forecasts the horizon of the forecasts the fit stored (a fit on
            rows with the future days), else 28.

        Returns
        -------
        estimator
            Fitted with every stored group.

        Raises
        ------
        StoreError
            The folder holds no store or no fitted group, the fit that wrote it stopped before the end (killed) or
            failed to refit a group on changed data (its stored model is of the old data), or a group's files are
            missing or damaged.
        """
        return cls._from_store(path, params)

    @classmethod
    def _from_store(cls, path: str | Path, params: dict, *, finished: bool = True):
        """:meth:`from_store`; with ``finished=False`` also a store whose fit stopped before the end (for a caller
        that names the groups missing itself)."""
        from m5kit.errors import StoreError
        from m5kit.store import ModelStore

        store = ModelStore(path)
        if store.read_manifest() is None:
            raise StoreError(f"{path} holds no m5kit model store (no manifest.json): give the folder of a finished run")
        records = store.records()
        if not records:
            raise StoreError(f"the model store {path} holds no fitted group: run the fit first")
        if finished:  # a killed fit: its groups loaded without a word, and predict only warned of those missing
            store.check_finished(records)
        self = cls(store=path, **params)
        self._reset()
        for name in records:
            companion, estimator, _, extra = store.load_group(name, with_extra=True)
            self._restore(name, companion, estimator)
            self._restore_extra(name, extra)
        self.groups_ = list(records)
        self.skipped_, self.failed_, self.retried_ = {}, {}, []
        self.resumed_ = list(records)
        self.fit_report_ = self._report({k: {**v, "resumed": True} for k, v in records.items()}, records)
        self._loaded(params)
        return self

    def _loaded(self, params: dict) -> None:
        """What a subclass sets after :meth:`from_store` loaded every group (``params``: the ones given)."""

    # -- predict ----------------------------------------------------------------------------
    def _predict_groups(self, parts: dict[str, Any], call: Callable[[str, Any], tuple[Callable, Any, tuple]]) -> list:
        """Run ``call(name, rows) -> (func, data, args)`` for every fitted group; the results in order.

        Groups without a fitted model get a :class:`SkippedGroupWarning`; any
        group whose task raised makes a :class:`GroupFitError`.
        """
        unknown = [name for name in parts if name not in self.estimators_]
        if unknown:
            warnings.warn(
                f"{len(unknown)} group(s) have no fitted model and get no {self._predict_stage} (e.g. {unknown[0]!r})",
                SkippedGroupWarning,
                stacklevel=3,
            )
        from m5kit.execution.cluster import Task

        tasks = [Task(name, *call(name, data)) for name, data in parts.items() if name in self.estimators_]
        if not tasks:
            return []
        outcomes = self._run(tasks, self._predict_stage, self._predict_stage + "ing")
        failed = {o.name: one_line(o.error) for o in outcomes if not o.ok}
        if failed:
            raise GroupFitError(failed, stage=self._predict_stage) from None
        return [o.result for o in outcomes]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["client"] = None  # a live client cannot travel; it is yours, not the model's
        return state

    def __sklearn_clone__(self):
        """An unfitted copy that shares the live Dask ``client``.

        scikit-learn's ``clone`` deep-copies every parameter that is not an
        estimator, and a ``distributed.Client`` cannot be copied: ``clone``,
        and so ``GridSearchCV``, failed on an estimator given ``client=``.
        """
        from sklearn.base import clone

        params = self.get_params(deep=False)
        if params.get("client") is None:
            return super().__sklearn_clone__()
        client = params.pop("client")
        return type(self)(**{name: clone(value, safe=False) for name, value in params.items()}, client=client)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = False
        return tags


def _fingerprint(data: Any) -> str:
    """The store's fingerprint of a group's rows (and of its targets, for an ``(X, y)`` pair)."""
    from m5kit.store import frame_fingerprint

    if isinstance(data, tuple):
        return "-".join(frame_fingerprint(pd.DataFrame(part)) for part in data)
    return frame_fingerprint(data)
