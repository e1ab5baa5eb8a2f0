"""Training runs in a folder: what ``m5kit train``, ``predict`` and ``evaluate`` do.

A run folder holds::

    run.json          the run's settings (level, data source, epochs, seed, ...) and the data
                      files' size, modification time and SHA-256 when it was trained
    models/           the model store (one model per group, manifest.json)
    forecast.csv      tidy 28-day forecast: id, d, forecast
    submission.csv    the same in M5's submission format: id, F1 ... F28
    fit_report.csv    one row per group: windows, epochs, losses, seconds
    scores.csv        WRMSSE per level for the run and the baselines (known future only)
    report/           report.html and its plots (``m5kit report``)
    run.lock          while ``train`` or ``predict`` works in the folder: its host and process id

Every file is written to a temporary name and renamed. Starting the same run
again in the same folder resumes it: groups already stored are not refitted.
The forecasts and reports of an earlier attempt are removed when a fit
starts, so that the folder never shows a forecast that its models did not
make; a new forecast or new scores remove the report that showed the old ones.
``predict`` refuses a run whose store lacks some group's model. A second
``train`` or ``predict`` in a folder that another one is using stops at once
(:func:`holding`); the lock of a killed one is taken over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
import os
import time
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from m5kit._schema import HORIZON, ID, day_columns
from m5kit.errors import DataError, GroupError, M5kitError, ParamError, StoreError
from m5kit.hierarchy import check_level, count_groups
from m5kit import _checks
from m5kit.pipeline import DEFAULT_MAX_WINDOWS, MODELS, check_pretrain_level, models_per_group, resolve_strategy
from m5kit.store import (atomic_write, changed_files, file_in_the_way, file_stats, holds_files, lock_folder,
                         new_folders, refuse_live_lock, remove_temp_files, undo_claim, unlock_folder, write_together)

__all__ = ["RunConfig", "Run", "TrainResult", "DataChangedWarning", "prepare_run", "open_run", "check_run_folder",
           "evaluate_run", "predict_run", "blend_runs", "baseline_forecasts", "load_data", "data_files", "resolve_params"]

logger = logging.getLogger(__name__)

RUN_FILE = "run.json"
#: Held in a run folder while ``m5kit train`` (or ``predict``) writes it: the name of the process (see :func:`holding`).
RUN_LOCK = "run.lock"
#: What ``m5kit blend`` writes beside the blended forecast: the runs and their weights.
BLEND_FILE = "blend.json"
#: Column of a run's own forecast in scores.csv, by model.
MODEL_NAMES = {"cnn-lstm": "CNN-LSTM (m5kit)", "lightgbm": "LightGBM (m5kit)", "xgboost": "XGBoost (m5kit)"}
DEFAULT_ITEMS = 139
#: Files a fit writes after its models: removed when a fit starts.
OUTPUTS = ("forecast.csv", "submission.csv", "fit_report.csv", "scores.csv")
#: The folder of report.html and its plots (:func:`m5kit.report.write_report`): removed with the outputs it shows.
REPORT_DIR = "report"
#: The M5 files of a data folder whose size, modification time and SHA-256 run.json records (see :func:`data_files`).
DATA_FILES = ("calendar.csv", "sell_prices.csv", "sales_train_validation.csv", "sales_train_evaluation.csv")


class DataChangedWarning(UserWarning):
    """A run's data folder changed since it was trained: ``predict`` forecasts, ``evaluate`` scores, the data as it is now."""


def data_files(data_dir: str | os.PathLike | None, content: bool = False) -> dict[str, list | None] | None:
    """Size and modification time (ns) of each M5 file of a data folder, as run.json records them at training.

    Parameters
    ----------
    data_dir : path or None
        The run's data folder; None for the built-in data (made from the run's settings alone).
    content : bool, default=False
        Also each file's SHA-256, as recorded at training: a file touched
        since (another modification time, the same content) is not a change
        (see :func:`m5kit.store.changed_files`).

    Returns
    -------
    dict or None
        File name (:data:`DATA_FILES`) -> ``[size, mtime_ns]`` (and the
        SHA-256 with ``content``), or None for a missing file; None for the
        built-in data.
    """
    if data_dir is None:
        return None
    return file_stats(data_dir, DATA_FILES, content=content)


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's models (the folder's identity).

    Workers and scheduler are not part of it: the same run may be resumed on
    another cluster. :func:`prepare_run` makes it from checked settings,
    with ``strategy`` and ``pretrain_level`` resolved; run.json keeps it.

    Parameters
    ----------
    level : int
        M5 level 1-12: one model per group of this level.
    data_dir : str or None, default=None
        Absolute path of the folder of M5 CSVs; None for the built-in data.
    model : {"cnn-lstm", "lightgbm", "xgboost"}, default="cnn-lstm"
        The per-group forecaster.
    items : int or None, default=None
        Use only the first ``items`` items (all their stores); None: all the
        data folder's items, or 139 of the built-in data.
    seed : int, default=0
        Seed of the built-in data and base seed of the per-group models.
    epochs : int, default=10
        CNN-LSTM only: maximum epochs per group.
    window : int, default=28
        CNN-LSTM only: days of history in each input window.
    max_windows : int or None, default=100000
        CNN-LSTM only: cap on the training windows of one group.
    horizon : int, default=28
        Days forecast.
    params : dict, default={}
        More pipeline parameters, by the short names of ``m5kit tune`` or in
        full (see :func:`prepare_run`).
    strategy : {"direct", "recursive", "blend", "weekly"} or None, default=None
        How the horizon is forecast; None: the model family's own (resolved
        by :func:`prepare_run`).
    seeds : int, default=1
        Models per group, each with its own seed, their forecasts averaged.
    pretrain_level : int or None, default=None
        CNN-LSTM only: the coarser level whose groups' models are pretrained
        and then fine-tuned per group of ``level``; None: no pretraining.

    Examples
    --------
    >>> RunConfig(level=3, model="lightgbm", items=7).strategy is None
    True
    """

    level: int
    data_dir: str | None = None
    model: str = "cnn-lstm"
    items: int | None = None
    seed: int = 0
    epochs: int = 10
    window: int = 28
    max_windows: int | None = DEFAULT_MAX_WINDOWS
    horizon: int = HORIZON
    params: dict = field(default_factory=dict)
    strategy: str | None = None
    seeds: int = 1
    pretrain_level: int | None = None

    def trained_with(self, name: str) -> Any:
        """``epochs`` or ``window`` as the run's pipeline has it: a ``params`` entry of that name (the short name
        ``m5kit tune`` prints, or in full) sets it over the field."""
        from m5kit.tuning_objectives import ALIASES

        full = ALIASES.get(self.model, {}).get(name)
        return resolve_params(self.model, self.params).get(full, getattr(self, name)) if full else getattr(self, name)


@dataclass
class TrainResult:
    """What a training run produced (returned by :meth:`Run.fit`).

    Parameters
    ----------
    out : Path
        The run folder.
    n_groups : int
        Groups of the run's level in the data (fitted or skipped).
    n_fitted : int
        Groups with a model, those resumed from the store included.
    n_resumed : int
        Groups whose model was loaded from the store instead of fitted.
    wall_seconds : float
        Seconds of the fit and forecast.
    report : DataFrame
        One row per group with a model (fit_report.csv): ``group``,
        ``seconds``, ``attempts``, ``resumed`` and the model's own fields
        (``monitor``, ...).
    scores : DataFrame or None, default=None
        Holdout WRMSSE per level (rows 1-12 and ``all``) of the model and the
        baselines; None when the future is unknown or groups were skipped.
    skipped : dict, default={}
        Groups skipped as too short for the window, with the reason.
    retried : list of str, default=[]
        Groups whose fit was sent again after its Dask worker died.

    Attributes
    ----------
    monitor : list of str
        One line per training rule that fired in some group.
    median_group_seconds : float
        Median seconds of a group fitted now (NaN when all were resumed).
    slowest_group : tuple of (str, float)
        The slowest group fitted now and its seconds (``("-", nan)`` when all
        were resumed).
    """

    out: Path
    n_groups: int
    n_fitted: int
    n_resumed: int
    wall_seconds: float
    report: pd.DataFrame
    scores: pd.DataFrame | None = None
    skipped: dict = field(default_factory=dict)
    retried: list = field(default_factory=list)

    @property
    def monitor(self) -> list[str]:
        """One line per training rule that fired in some group (see :mod:`m5kit.monitor`)."""
        from m5kit.monitor import summarize

        if "monitor" not in self.report:
            return []
        found = {str(g): json.loads(m) if isinstance(m, str) and m else [] for g, m in zip(self.report["group"], self.report["monitor"])}
        return summarize(found)

    @property
    def median_group_seconds(self) -> float:
        fresh = self.report.loc[~self.report["resumed"], "seconds"]
        return float(fresh.median()) if len(fresh) else float("nan")

    @property
    def slowest_group(self) -> tuple[str, float]:
        fresh = self.report.loc[~self.report["resumed"]]
        if fresh.empty:
            return "-", float("nan")
        row = fresh.loc[fresh["seconds"].idxmax()]
        return str(row["group"]), float(row["seconds"])


def _positive(name: str, value, minimum: int = 1) -> int | None:
    """A whole number of at least ``minimum`` (text of digits too), or None; a ParamError line (it was a DataError)."""
    return _checks.optional_whole(value, name, minimum=minimum, text=True)


class Run:
    """A training run bound to its folder and its data.

    Use :func:`prepare_run` (new or resumed run) or :func:`open_run`
    (an existing run, for predict and evaluate).

    Parameters
    ----------
    out : path
        The run folder (run.json, models/, forecasts and reports).
    config : RunConfig
        The run's settings.
    data : M5Data
        The data the run fits and forecasts (:func:`load_data`).
    files : dict or None, default=None
        The data files' sizes and modification times when ``data`` was read
        (:func:`data_files`); None for the built-in data.
    trained : dict or None, default=None
        What run.json recorded when the run was trained (``files`` and
        ``last_day``); None for a new run or one trained before m5kit
        recorded it.

    Attributes
    ----------
    out, config, data, files, trained
        The parameters (``out`` as a Path).
    store_path : Path
        The run's model store, ``out / "models"``.
    """

    def __init__(self, out: Path, config: RunConfig, data, files: dict | None = None, trained: dict | None = None):
        self.out = Path(out)
        self.config = config
        self.data = data
        self.files = files
        self.trained = trained
        self._short_checked = False  # prepare_run(on_short="raise") found no group of ``data`` too short
        self._changed: list[str] | None = None  # changed_files(), once worked out
        self._scorer = None  # _evaluator(), once built (prepare_run builds it to check the data)
        self._locked = False  # the folder's lock is held for this run (`m5kit train` holds it from the claim on)

    def changed_files(self) -> list[str]:
        """The data files that changed since the run was trained: another size, or another content.

        A file only touched (another modification time, the same content) has
        not changed when run.json recorded its SHA-256; it is hashed only then,
        once per run opened. Empty for the built-in data and for a run whose
        run.json does not record the files (trained by an older m5kit).
        """
        then = (self.trained or {}).get("files")
        if not then or self.files is None:
            return []
        if self._changed is None:
            self._changed = changed_files(self.config.data_dir, then, {name: self.files.get(name) for name in DATA_FILES})
        return list(self._changed)

    @property
    def store_path(self) -> Path:
        return self.out / "models"

    def summary(self) -> dict[str, Any]:
        """Series, days, level, number of groups and Keras backend of the run."""
        return {
            "data": self.config.data_dir or f"built-in (make_m5, seed {self.config.seed})",
            "series": self.data.n_series,
            "days": self.data.n_days,
            "level": self.config.level,
            "groups": count_groups(self.data.sales, [self.config.level])[self.config.level],
            "model": self.config.model,
            "strategy": self.config.strategy + (f", {self.config.seeds} seeds" if self.config.seeds > 1 else "")
            + (f", pretrained at level {self.config.pretrain_level}" if self.config.pretrain_level else ""),
            **({"backend": os.environ.get("KERAS_BACKEND", "tensorflow"), "epochs": self.config.trained_with("epochs")}
               if self.config.model == "cnn-lstm" else {}),
        }

    def pipeline(self, **params):
        """The run's sklearn Pipeline (``make_pipeline`` with the run's settings)."""
        from m5kit.pipeline import make_pipeline

        c = self.config
        pipe = make_pipeline(
            c.level, self.data.calendar, self.data.prices, model=c.model, epochs=c.epochs, window=c.window,
            max_windows=c.max_windows, random_state=c.seed, horizon=c.horizon, store=self.store_path,
            strategy=c.strategy, seeds=c.seeds, pretrain_level=c.pretrain_level, **params,
        )
        return pipe.set_params(**resolve_params(c.model, c.params)) if c.params else pipe

    @contextlib.contextmanager
    def _holding(self, what: str):
        """The run folder's lock (:func:`holding`) as ``what`` while the run writes, unless it is held already: a
        fit or predict in Python beside a running `m5kit train` (or another fit) stops at once, writing nothing."""
        if self._locked:
            yield
            return
        _make_folder(self.out)
        self._locked = True
        try:
            with holding(self.out, what):
                yield
        finally:
            self._locked = False

    def fit(self, *, client: Any = None, n_workers: int | None = None, scheduler: str | None = None,
            progress: bool = False, retries: int = 2, on_short: str = "warn", timeout: float = 30.0) -> TrainResult:
        """Fit every group (resuming from the store), forecast, and score if the future is known.

        The run folder's lock (``run.lock``) is held while it works, as `m5kit train` holds it.

        Parameters
        ----------
        client, n_workers, scheduler
            Where to fit (see :func:`m5kit.make_pipeline`).
        progress : bool
            Progress bars on stderr.
        retries : int
            Extra attempts for a group whose Dask worker died.
        on_short : {"warn", "raise"}
            A group too short for the window: skip it with a warning, or
            raise :class:`~m5kit.errors.GroupError` before fitting anything.
        timeout : float
            Seconds to wait for a remote scheduler.

        Returns
        -------
        TrainResult

        Raises
        ------
        GroupFitError
            Some groups' fits raised; the others are stored, and running the
            same fit again fits only the failed ones. No forecast is written.
        RunLockedError
            Another run (an `m5kit train`, a fit) is writing the folder: nothing was written.
        """
        _checks.choice(on_short, "on_short", ("warn", "raise"))
        with self._holding("m5kit train"):
            return self._fit(client=client, n_workers=n_workers, scheduler=scheduler, progress=progress,
                             retries=retries, on_short=on_short, timeout=timeout)

    def _fit(self, *, client, n_workers, scheduler, progress, retries, on_short, timeout) -> TrainResult:
        # Built first (prepare_run built it already): its checks of the data fail before anything is written.
        evaluator = self._evaluator() if self.data.future is not None else None
        days = day_columns(self.data.sales.columns)
        with _writing(self.out / RUN_FILE, "run the same `m5kit train` command again"):
            _write_json(self.out / RUN_FILE, {"format": 1, "config": asdict(self.config),
                                              "data": {"files": self.files, "last_day": days[-1] if days else None}})
        for name in OUTPUTS:  # the forecast of an earlier attempt no longer matches the models
            (self.out / name).unlink(missing_ok=True)
        _remove_report(self.out)
        # prepare_run(on_short="raise") checked every group of this data before the cluster started: the fit's own
        # check, as long again (30 CPU-s for LightGBM at level 12 on 3,049 series), is not repeated
        repeat = on_short == "raise" and not self._short_checked
        pipe = self.pipeline(client=client, n_workers=n_workers, scheduler=scheduler, progress=progress,
                             retries=retries, on_short="raise" if repeat else "warn", timeout=timeout)
        from m5kit.grouped import GroupFitError

        start = time.perf_counter()
        try:
            pipe.fit(self.data.sales)
        except GroupFitError:  # the groups that fitted are stored: they are this run's too
            _record_config(self.store_path, self.config)
            raise
        _record_config(self.store_path, self.config)
        grouped = pipe[-1]
        if on_short == "raise" and grouped.skipped_:  # not found by prepare_run's check: stop as the fit's would
            raise GroupError(grouped._short_message(grouped.skipped_, stop="the other groups are fitted"))
        forecast = pipe.predict(self.data.sales)
        wall = time.perf_counter() - start
        again = "run the same `m5kit train` command again (the fitted groups are stored)"
        self._write_forecast(forecast, again)
        with _writing(self.out / "fit_report.csv", again):
            write_csv(grouped.fit_report_, self.out / "fit_report.csv")
        # WRMSSE needs every series: with skipped (too short) groups there is no score.
        scores = self.evaluate(forecast, evaluator) if evaluator is not None and not grouped.skipped_ else None
        return TrainResult(
            out=self.out, n_groups=len(grouped.groups_) + len(grouped.skipped_), n_fitted=len(grouped.groups_),
            n_resumed=len(grouped.resumed_), wall_seconds=wall, report=grouped.fit_report_, scores=scores,
            skipped=dict(grouped.skipped_), retried=list(grouped.retried_),
        )

    def predict(self, *, client: Any = None, n_workers: int | None = None, scheduler: str | None = None,
                progress: bool = False) -> pd.DataFrame:
        """Forecast with the stored models (no training); returns the tidy forecast.

        The run folder's lock (``run.lock``) is held while it works, as `m5kit predict` holds it: beside a running
        train (or predict) it stops with a :class:`~m5kit.store.RunLockedError`.
        """
        with self._holding("m5kit predict"):
            return self._predict(client=client, n_workers=n_workers, scheduler=scheduler, progress=progress)

    def _predict(self, *, client, n_workers, scheduler, progress) -> pd.DataFrame:
        from m5kit.grouped import GroupedEstimator
        from m5kit.store import ModelStore

        pipe = self.pipeline()
        manifest = ModelStore(self.store_path).read_manifest() or {}
        fitted = (manifest.get("run") or {}).get("estimator")
        expected = type(pipe[-1].estimator).__name__
        if fitted is not None and fitted != expected:  # run.json edited by hand, or another run's
            raise StoreError(f"{self.out / RUN_FILE} describes a run of {expected} models ({self.config.model}) but "
                             f"its model store {self.store_path} holds {fitted} models: put the run's own {RUN_FILE} "
                             "back, or train the run again")
        features = pipe[:-1].fit_transform(self.data.sales)
        grouped = GroupedEstimator._from_store(  # an unfinished run: the groups missing are named below
            self.store_path, dict(client=client, n_workers=n_workers, scheduler=scheduler, progress=progress,
                                  horizon=self.config.horizon), finished=False,
        )
        skipped = manifest.get("skipped") or {}
        groups = features["group"].astype(str).unique()
        missing = [g for g in groups if g not in grouped.estimators_ and g not in skipped]
        changed = self.changed_files()
        if missing and changed:
            raise StoreError(
                f"the data in {self.config.data_dir} changed since the run was trained ({', '.join(changed)}): "
                f"{len(missing)} of its {len(groups)} group(s) have no model (e.g. {missing[0]!r}): run the same "
                "`m5kit train` command again to fit them (and refit the groups whose data changed), then predict"
            )
        if missing and len(missing) == len(groups) and grouped.estimators_:  # not one group in common: other settings
            raise StoreError(
                f"none of the {len(groups)} level-{self.config.level} group(s) that {self.out / RUN_FILE} describes "
                f"is in the model store {self.store_path}, which holds other groups (e.g. "
                f"{next(iter(grouped.estimators_))!r}): put the run's own {RUN_FILE} back, or train the run again"
            )
        if missing:
            raise StoreError(
                f"the run in {self.out} is unfinished: {len(missing)} of {len(groups)} group(s) have no stored model "
                f"(e.g. {missing[0]!r}): run the same `m5kit train` command again to fit them, then predict"
            )
        if "updated" not in manifest:  # a train that refitted some groups (changed data) was killed: old models beside new
            raise StoreError(
                f"the run in {self.out} is unfinished: its last `m5kit train` stopped before the end: run the same "
                "`m5kit train` command again to finish it, then predict"
            )
        known = set(groups)
        failed = [g for g in ModelStore(self.store_path).failed_refits(grouped.estimators_, manifest) if g in known]
        if failed:  # a refit (changed data) that failed keeps the group's model of the old data: it is not this run's
            names = ", ".join(failed[:3]) + (", ..." if len(failed) > 3 else "")
            raise StoreError(
                f"the run in {self.out} is unfinished: its last `m5kit train` failed to fit {len(failed)} group(s) "
                f"({names}): fix the cause and run the same `m5kit train` command again, then predict"
            )
        forecast = grouped.predict(features)
        if changed:
            warnings.warn(self._changed_message(changed), DataChangedWarning, stacklevel=2)
            # scores.csv scored the forecast being replaced, against the old data: `m5kit evaluate` scores the new one;
            # the report plotted both
            (self.out / "scores.csv").unlink(missing_ok=True)
            _remove_report(self.out)
        self._write_forecast(forecast, f"run `m5kit predict --run {shlex.quote(str(self.out))}` again")
        return forecast

    def _changed_message(self, changed: list[str]) -> str:
        days = day_columns(self.data.sales.columns)
        now, then = days[-1] if days else "?", (self.trained or {}).get("last_day")
        moved = f" (the training data ended at {then})" if then and then != now else ""
        return (f"the data in {self.config.data_dir} changed since the run was trained ({', '.join(changed)}: size or "
                f"content differ): this forecast of the {self.config.horizon} days after {now}{moved} comes "
                "from the models fitted on the old data; run the same `m5kit train` command again to refit the groups "
                "whose data changed")

    def check_forecast_days(self, forecast: pd.DataFrame, path: Path) -> None:
        """Refuse, in one line, a saved forecast of other days than those whose sales the data knows now.

        It happens when the data folder changed since the forecast was made (days appended): the
        fix is a new forecast (``m5kit predict``) or a refit, not anything about the forecast file.
        """
        if self.data.future is None or "d" not in forecast.columns or forecast.empty:
            return
        truth = day_columns(self.data.future.columns)
        days = sorted(set(forecast["d"].astype(str)), key=lambda d: (len(d), d))
        if days == truth:
            return
        changed = self.changed_files()
        where = f"the data in {self.config.data_dir}" if self.config.data_dir else "the run's data"
        since = f" (it changed since the run was trained: {', '.join(changed)})" if changed else ""
        raise DataError(f"{path} forecasts {days[0]}..{days[-1]} but {where} knows the sales of "
                        f"{truth[0]}..{truth[-1]}{since}: run `m5kit predict --run {shlex.quote(str(self.out))}` to "
                        "forecast the days after the data as it is now, or the same `m5kit train` command again to refit")

    def check_forecast_values(self, forecast: pd.DataFrame, path: Path) -> None:
        """Refuse, in one line naming the file and the run to predict again, a saved forecast holding NaN or
        infinite values (the scorer and the blend would only say "forecast")."""
        if "forecast" not in forecast.columns:
            return
        values = pd.to_numeric(forecast["forecast"], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(forecast["forecast"].isna().to_numpy() | np.isinf(values))  # text: the scorer's to say
        if not bad.size:
            return
        first = forecast.iloc[bad[0]]
        where = f"id {str(first.get(ID))!r}, {first.get('d')}"
        raise DataError(f"{path} has {bad.size} NaN or infinite forecast(s) (first: {where}): run "
                        f"`m5kit predict --run {shlex.quote(str(self.out))}` to forecast again")

    def check_forecast_table(self, forecast: pd.DataFrame, path: Path) -> None:
        """Refuse, in one line naming the file and the run to predict again, a saved forecast that is not one row per
        series and day over the same days (two rows for a day, a day missing: the scorer said only "forecast")."""
        from m5kit.forecasting.submission import _forecast_matrix

        try:
            _forecast_matrix(forecast, what=str(path))
        except DataError as exc:
            again = f"`m5kit predict --run {shlex.quote(str(self.out))}`"
            raise DataError(f"{exc}; or run {again} to write it again") from None

    def check_forecast_series(self, forecast: pd.DataFrame, path: Path, blend: bool = False) -> None:
        """Refuse, in one line, a saved forecast without every series of the data (WRMSSE needs them all, and
        so does a ``blend``), or with series the data does not have."""
        if "id" not in forecast.columns:
            return
        ids = self.data.sales[ID].astype(str)
        missing = ids[~ids.isin(set(forecast["id"].astype(str)))]
        if missing.empty:
            self._check_no_other_series(forecast, ids, path, blend)
            return
        from m5kit.store import ModelStore

        try:
            skipped = dict((ModelStore(self.store_path).read_manifest() or {}).get("skipped") or {})
        except M5kitError:
            skipped = {}
        head = (f"{path} has no forecast for {len(missing)} of {len(ids)} series (e.g. {missing.iat[0]!r}) and "
                f"{'a blend' if blend else 'the WRMSSE'} needs every series")
        if skipped:
            names = ", ".join(list(skipped)[:3]) + (", ..." if len(skipped) > 3 else "")
            lower = " (a lower --window for the CNN-LSTM)" if window_helps(skipped.values()) else ""
            fix = (f"the run skipped {len(skipped)} group(s) with too little history to train ({names}): fit them"
                   f"{lower} to {'blend' if blend else 'score'} the run")
        else:
            fix = (f"run `m5kit predict --run {shlex.quote(str(self.out))}` to forecast every series, then "
                   f"{'blend' if blend else 'evaluate'}")
        raise DataError(f"{head}: {fix}")

    def _check_no_other_series(self, forecast: pd.DataFrame, ids: pd.Series, path: Path, blend: bool) -> None:
        """A forecast of series the data does not have: the scorer said only "forecast id ... is not in sales"."""
        extra = pd.unique(forecast["id"].astype(str)[~forecast["id"].astype(str).isin(set(ids))])
        if not len(extra):
            return
        raise DataError(f"{path} has forecasts of {len(extra)} series the data does not have (e.g. {extra[0]!r}) and "
                        f"{'a blend averages' if blend else 'the WRMSSE scores'} the data's series: run `m5kit predict --run "
                        f"{self.out}` to forecast the data's series, then {'blend' if blend else 'evaluate'}")

    def changed_warning(self, doing: str, then: str = "to refit") -> None:
        """Warn (DataChangedWarning) when the data files changed since the run was trained.

        ``doing`` says what uses them; ``then`` what the same `m5kit train` command again is for.
        """
        changed = self.changed_files()
        if changed:
            warnings.warn(f"the data in {self.config.data_dir} changed since the run was trained ({', '.join(changed)}: "
                          f"size or content differ): {doing}; run the same `m5kit train` command again "
                          f"{then}", DataChangedWarning, stacklevel=3)

    def _evaluator(self):
        """The WRMSSE scorer of the run's data (built once: its checks, every sale has a price, read all the data)."""
        from m5kit.metrics import WRMSSEEvaluator

        if self._scorer is None:
            self._scorer = WRMSSEEvaluator(self.data.sales, self.data.prices, self.data.calendar, on_zero_scale="skip")
        return self._scorer

    def check_future(self, purpose: str) -> None:
        """A :class:`DataError` naming the fix when the run's data has no known future days (to ``purpose``)."""
        if self.data.future is not None:
            return
        from m5kit.datasets._load import EVALUATION_FILE, VALIDATION_FILE

        folder = Path(self.config.data_dir) if self.config.data_dir is not None else None
        if folder is not None and (folder / EVALUATION_FILE).is_file() and not (folder / VALIDATION_FILE).is_file():
            # the evaluation file alone is the training data: no file holds the days after it
            raise DataError(
                f"the run's data has no known future days to {purpose}: {folder} holds {EVALUATION_FILE} "
                f"alone, so the run forecasts the {self.config.horizon} days after its last day, which no file "
                f"holds: put M5's {VALIDATION_FILE} beside it (m5kit then trains on its days and scores the "
                f"{self.config.horizon} days the evaluation file adds) and run the same `m5kit train` command again"
            )
        raise DataError(
            f"the run's data has no known future days to {purpose}: use the built-in data, or put "
            "sales_train_evaluation.csv beside sales_train_validation.csv in the data folder"
        )

    def evaluate(self, forecast: pd.DataFrame | None = None, evaluator=None) -> pd.DataFrame:
        """WRMSSE overall and per level for the run's forecast and the baselines."""
        self.check_future("score against")
        if forecast is None:
            path = self.out / "forecast.csv"
            if not path.exists():
                raise StoreError(f"{path} does not exist: run `m5kit train` (or `m5kit predict`) for this run first")
            forecast = read_run_table(path, "`m5kit predict --run` writes it again")
            self.check_forecast_days(forecast, path)
            self.check_forecast_series(forecast, path)
            self.check_forecast_values(forecast, path)
            self.check_forecast_table(forecast, path)
            self.changed_warning("its forecast is scored against the data as it is now",
                                 then="to refit and score the changed data")
        scores = score_forecasts(self.data, {MODEL_NAMES[self.config.model]: forecast,
                                             **baseline_forecasts(self.data.sales, self.config.horizon)},
                                 evaluator=evaluator)
        path = self.out / "scores.csv"
        before = path.read_bytes() if path.exists() else None
        with _writing(path, f"run `m5kit evaluate --run {shlex.quote(str(self.out))}` again"):
            write_csv(scores, path)
        if path.read_bytes() != before:  # the report shows the scores it was made with
            _remove_report(self.out)
        return scores

    def _write_forecast(self, forecast: pd.DataFrame, again: str) -> None:
        """forecast.csv and submission.csv; ``again`` says what writes them again when a write fails (StoreError)."""
        from m5kit.forecasting.submission import to_submission

        submission = to_submission(forecast, horizon=self.config.horizon)
        sub_path, forecast_path = self.out / "submission.csv", self.out / "forecast.csv"
        renamed = False
        try:
            # both written whole to their temporary files before either is put in place (forecast.csv first): a full
            # disk, Ctrl-C or a kill leaves the older pair, never a new forecast beside another forecast's submission
            with _writing(sub_path, again), atomic_write(sub_path, "w") as sub:
                submission.to_csv(sub, index=False)
                sub.flush()
                os.fsync(sub.fileno())
                with _writing(forecast_path, again), atomic_write(forecast_path, "w") as fh:
                    forecast.to_csv(fh, index=False)
                renamed = True
        except BaseException:
            if renamed:  # the new forecast.csv is in place: the older submission.csv is not its
                sub_path.unlink(missing_ok=True)
            raise


def baseline_forecasts(sales: pd.DataFrame, horizon: int = HORIZON) -> dict[str, pd.DataFrame]:
    """Forecasts of every baseline of :mod:`m5kit.forecasting.baselines`, by name.

    Parameters
    ----------
    sales : DataFrame
        Wide sales table (the history).
    horizon : int, default=28
        Days to forecast.

    Returns
    -------
    dict of str to DataFrame
        Baseline name (the keys of ``BASELINES``) -> its tidy forecast.
    """
    from m5kit.forecasting.baselines import BASELINES

    return {name: func(sales, horizon=horizon) for name, func in BASELINES.items()}


def score_forecasts(data, forecasts: dict[str, pd.DataFrame], evaluator=None) -> pd.DataFrame:
    """WRMSSE table: one row per level (1-12) and ``all``, one column per forecast."""
    from m5kit.metrics import WRMSSEEvaluator

    if evaluator is None:
        evaluator = WRMSSEEvaluator(data.sales, data.prices, data.calendar, on_zero_scale="skip")
    columns = {}
    for name, forecast in forecasts.items():
        total, levels = evaluator.score(data.future, forecast, per_level=True)
        columns[name] = [*levels["wrmsse"].to_list(), total]
    index = [str(level) for level in range(1, 13)] + ["all"]
    return pd.DataFrame(columns, index=pd.Index(index, name="level")).reset_index()


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV through a temporary file (never half-written)."""
    with atomic_write(path, "w") as fh:
        frame.to_csv(fh, index=False)


def read_run_table(path: Path, fix: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """One of a run's CSV files, or one StoreError line when it is unreadable or lacks one of ``columns``.

    Parameters
    ----------
    path : Path
        The file (its absence is the caller's to report: the fix depends on the file).
    fix : str
        What to do about it, ending the message.
    columns : tuple of str, default=()
        Columns the caller reads.

    Returns
    -------
    DataFrame

    Raises
    ------
    StoreError
        An empty, garbled or unreadable file, or one without a column of ``columns``.
    """
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:  # pandas' parser errors are ValueErrors
        raise StoreError(f"{path} is unreadable ({str(exc).strip().splitlines()[0]}): {fix}") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise StoreError(f"{path} is damaged (no column {missing[0]!r}): {fix}")
    return table


@contextlib.contextmanager
def _writing(path: Path | str, again: str):
    """An OSError writing ``path`` (a full disk, no permission) as one StoreError line; ``again`` writes it again."""
    try:
        yield
    except OSError as exc:
        raise StoreError(f"cannot write {path} ({exc.strerror or exc}): free disk space or make the folder writable, "
                         f"then {again}") from None


def _remove_report(out: Path) -> None:
    """Remove a run's report/ folder: it shows a forecast or scores that are being replaced."""
    import shutil

    shutil.rmtree(out / REPORT_DIR, ignore_errors=True)


def _write_json(path: Path, payload: dict) -> None:
    with atomic_write(path, "w") as fh:
        json.dump(payload, fh, indent=1, sort_keys=True)


def _load_data(config: RunConfig):
    return load_data(config.data_dir, config.items, config.seed, config.horizon)


def load_data(data_dir: str | os.PathLike | None = None, items: int | None = None, seed: int = 0,
              horizon: int = HORIZON):
    """The data of a run: the M5 files in ``data_dir`` (first ``items`` items), or the built-in data.

    Parameters
    ----------
    data_dir : path, optional
        A folder of M5 files (:func:`~m5kit.datasets.load_m5`); None for the
        built-in data (:func:`~m5kit.datasets.make_m5`).
    items : int, optional
        Keep the first ``items`` items of the M5 files (all when None); the
        built-in data's number of items (139 when None).
    seed : int, default=0
        Seed of the built-in data (unused with ``data_dir``).
    horizon : int, default=28
        Days of known future of the built-in data (unused with ``data_dir``).

    Returns
    -------
    M5Data

    Raises
    ------
    DataError
        A missing or malformed data folder or file.
    ParamError
        ``items`` is not a whole number of at least 1 (``items=0`` included).
    """
    from m5kit.datasets import load_m5, make_m5, subset_items

    items = _positive("item count", items)  # 0 was read as 'not given': every item
    if data_dir is None:
        return make_m5(n_items=items or DEFAULT_ITEMS, seed=seed, horizon=horizon)
    data = load_m5(data_dir)
    return subset_items(data, items) if items else data


def resolve_params(model: str, params: dict) -> dict:
    """Pipeline parameter names for ``params`` given by the tuning's short names (or in full).

    Parameters
    ----------
    model : str
        The model family whose short names apply (:data:`m5kit.tuning_objectives.ALIASES`).
    params : dict
        Parameter values by short name (``"window"``) or full pipeline name;
        unknown names are kept as they are.

    Returns
    -------
    dict
        The same values by full pipeline name (see :func:`m5kit.tuning_objectives.resolve`).

    Raises
    ------
    ParamError
        ``params`` is not a dict by name.
    """
    from m5kit.tuning_objectives import resolve

    return resolve(model, params)


def param_names(pipe) -> set[str]:
    """The parameter names ``--param`` can set on a run's pipeline: its own, and a Keras builder's arguments."""
    import inspect

    known = set(pipe.get_params())
    builder = getattr(pipe[-1].estimator, "model", None)
    if callable(builder):  # a Keras builder's own arguments, routed the scikeras way
        known |= {f"groupedestimator__estimator__model__{name}" for name in inspect.signature(builder).parameters}
    return known


def _check_params(config: RunConfig, data) -> None:
    """Refuse ``--param`` names the run's pipeline does not have, and values it refuses, before anything is written."""
    if not config.params:
        return
    import difflib

    from m5kit.pipeline import make_pipeline
    from m5kit.tuning_objectives import ALIASES

    pipe = make_pipeline(config.level, data.calendar, data.prices, model=config.model)
    known = param_names(pipe) | set(ALIASES.get(config.model, {}).values())
    for given, name in zip(config.params, resolve_params(config.model, config.params)):
        if name not in known:
            # suggest names that work: a short name where there is one, else the full name of the last part given
            aliases = ALIASES.get(config.model, {})
            full = {}
            for k in sorted(known, key=len):
                full.setdefault(k.rsplit("__", 1)[-1], k)
            close = difflib.get_close_matches(given.rsplit("__", 1)[-1], sorted(set(full) | set(aliases)), n=3)
            close = [c if c in aliases else full[c] for c in close]
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise ParamError(f"unknown parameter {given!r} for the {config.model} pipeline{hint}: give a parameter "
                             "it has (short names as in `m5kit tune --help`, or full names like groupedestimator__...)")
    _check_param_values(config, data)


def _shown(value) -> str:
    """A ``--param`` value as it was typed (``parse_assignment`` read it)."""
    if isinstance(value, (list, tuple)):
        return ",".join(_shown(v) for v in value)
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def _said(exc: BaseException) -> str:
    """The first line of a library's error, without the source file and line it came from."""
    import re

    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()
    line = re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", line)  # XGBoost's "[12:00:00] /path/objective.cc:27: "
    line = re.sub(r" at \S+, line \d+\s*\.?$", "", line)  # LightGBM's " at /path/config_auto.cpp, line 349 ."
    return line.rstrip(" .") or type(exc).__name__


def _check_param_values(config: RunConfig, data) -> None:
    """Refuse ``--param`` values the run's pipeline would refuse in every group's fit, before anything is written.

    The pipeline with the values is checked as a group's fit would check it
    (:func:`m5kit.pipeline.check_pipeline`, on the features of the data's
    first series); when it fails, the values are tried one at a time to name
    the one at fault.
    """
    from m5kit.pipeline import check_pipeline

    sample = data.sales.iloc[:1]  # the features of one series: parameters that name features meet the real ones

    def problem(params: dict) -> BaseException | None:
        try:
            check_pipeline(Run(Path("."), replace(config, params=params), data).pipeline(), sample)
        except Exception as exc:  # m5kit's checks and the libraries' own errors alike
            return exc
        return None

    error = problem(config.params)
    if error is None:
        return
    at_fault = config.params
    if len(config.params) > 1:
        for name, value in config.params.items():
            alone = problem({name: value})
            if alone is not None:
                error, at_fault = alone, {name: value}
                break
    given = ", ".join(f"{name}={_shown(value)}" for name, value in at_fault.items())
    if isinstance(error, M5kitError):  # m5kit's own check: its line already says what to give
        raise ParamError(f"--param {given}: {error}") from None
    if len(at_fault) > 1:
        raise ParamError(f"--param {given}: the {config.model} model refuses these values together ({_said(error)}): "
                         "change one of them")
    raise ParamError(f"--param {given}: the {config.model} model refuses this value ({_said(error)}): "
                     "give a value it accepts")


def prepare_run(
    out: str | os.PathLike,
    *,
    level,
    model: str = "cnn-lstm",
    data_dir: str | os.PathLike | None = None,
    items: int | None = None,
    seed: int = 0,
    epochs: int = 10,
    window: int = 28,
    max_windows: int | None = DEFAULT_MAX_WINDOWS,
    params: dict | None = None,
    overwrite: bool = False,
    strategy: str | None = None,
    seeds: int = 1,
    pretrain_level: int | str | None = "auto",
    on_short: str = "warn",
    _lock: contextlib.ExitStack | None = None,
) -> Run:
    """Check the settings and the output folder, load the data, and return the run.

    Parameters
    ----------
    out : path
        Run folder. A folder holding the same run is resumed; one holding a
        different run is refused unless ``overwrite``.
    level : int
        M5 level 1-12.
    model : {"cnn-lstm", "lightgbm", "xgboost"}
        The per-group forecaster (see :func:`m5kit.make_pipeline`).
    data_dir : path, optional
        Folder of M5 CSVs; None generates the built-in data.
    items : int, optional
        Use only the first ``items`` items (all their stores).
    seed, epochs, window, max_windows
        See :func:`m5kit.make_pipeline` (``epochs``, ``window`` and
        ``max_windows`` only concern the CNN-LSTM).
    params : dict, optional
        More pipeline parameters, by the short names of ``m5kit tune`` (``learning_rate``)
        or in full (``groupedestimator__estimator__num_leaves``): what a search found.
    overwrite : bool
        Replace a different run in ``out``.
    strategy : {"direct", "recursive", "blend", "weekly"}, optional
        How the horizon is forecast; by default the family's own (see
        :func:`m5kit.make_pipeline`). Stored resolved, so a run made under
        another default is not resumed as this one.
    seeds : int, default=1
        Models per group with their own seeds, averaged (see :func:`m5kit.make_pipeline`).
    pretrain_level : int, "auto" or None, default="auto"
        CNN-LSTM only: pretrain per group of this level, then fine-tune per
        group; ``"auto"`` pretrains per store at level 12 and per state at 11
        (see :func:`m5kit.make_pipeline`). Stored resolved, like ``strategy``.
    on_short : {"warn", "raise"}, default="warn"
        ``"raise"``: refuse data with a group too short to train now, before
        anything is written or a cluster started (pass the same to
        :meth:`Run.fit`); ``"warn"``: such groups are skipped by the fit.

    Returns
    -------
    Run

    Raises
    ------
    GroupError
        With ``on_short="raise"``, some group is too short to train.
    ParamError
        A setting m5kit cannot use (``params`` that is not a dict by name, ...).
    RunLockedError
        Another run (an `m5kit train`, a fit) is writing ``out``: nothing was read or written.
    """
    out = _checks.path(out, "out", "the run folder")
    level = check_level(level)
    model = _checks.choice(model, "model", MODELS)
    on_short = _checks.choice(on_short, "on_short", ("warn", "raise"))
    overwrite = _checks.choice(overwrite, "overwrite", (False, True))  # 'no' was read as true: a different run replaced
    if model != "cnn-lstm":
        _require_library(model)
    strategy = resolve_strategy(model, strategy)
    seeds = _positive("seed count", seeds)
    items = _positive("item count", items)
    epochs = _positive("epoch count", epochs)
    seed = _positive("seed", seed, minimum=0)
    window = _positive("window", window, minimum=2)
    max_windows = _positive("max_windows", max_windows)  # else the fit refused it after run.json claimed the folder
    if params is not None:  # a dict by name (resolve_params checks it), before the data is read
        resolve_params(model, params)
    if data_dir is not None:
        data_dir = _checks.path(data_dir, "data_dir", "the folder that holds the M5 CSV files")  # 5: a bare TypeError
        if not _checks.home(data_dir).is_dir():
            raise DataError(f"data folder {Path(data_dir)} does not exist: give the folder that holds the M5 CSV files")
        # absolute: predict, evaluate, report and blend find it from any working folder
        data_dir = os.path.abspath(_checks.home(data_dir))
    config = RunConfig(level=level, data_dir=data_dir, model=model, items=items, seed=seed, epochs=epochs, window=window,
                       max_windows=max_windows, params=dict(params or {}), strategy=strategy,
                       seeds=seeds, pretrain_level=check_pretrain_level(
                           pretrain_level, level, model, models_per_group(strategy, seeds), name="--pretrain-level",
                           hint="--model cnn-lstm, --seeds 1, --strategy direct or recursive"))
    # a train still in the folder stops this one before the data is read; the lock: at the claim
    refuse_busy(out, "m5kit train")
    files = data_files(config.data_dir, content=True)  # before reading: a file changed while it is read counts as changed
    # the data's own problems come first, before any word on the output folder
    data = _load_data(config if config.data_dir is None else replace(config, items=None))
    if config.data_dir is not None and config.items is not None:
        if config.items >= data.sales["item_id"].nunique():
            config = replace(config, items=None)  # every item of the folder: the same run as without --items
        else:
            from m5kit.datasets import subset_items

            data = subset_items(data, config.items)
    _check_future_days(config, data)
    _check_params(config, data)
    _check_enough_days(config, data)
    _check_some_group_fits(config, data)
    checked = on_short == "raise" and _check_no_group_short(config, data)
    run = Run(out, config, data, files=files)
    if data.future is not None:
        run._evaluator()  # its checks of the data (every sale has a price) fail now, before a cluster starts
    if _lock is None:  # in Python: the claim (it may clear the folder) under the lock; Run.fit takes it again
        with contextlib.ExitStack() as claim:
            run.config = _claim_folder(out, config, overwrite, claim)
    else:  # `m5kit train` holds it until its end
        run.config = _claim_folder(out, config, overwrite, _lock)
        run._locked = True
    run._short_checked = checked
    return run


def _check_future_days(config: RunConfig, data) -> None:
    """Refuse a known future shorter than the horizon before anything is fitted: it could not score the forecast.

    ``load_m5`` keeps such an evaluation file (``m5kit predict`` reads the folder after days were
    appended to the validation file); a run that would be scored against it is refused here.
    """
    if data.future is None:
        return
    days = day_columns(data.future.columns)
    if len(days) >= config.horizon:
        recent = day_columns(data.sales.columns)[-HORIZON:]
        if not data.sales[recent].to_numpy().any():  # WRMSSE weighs series by their last 28 days' dollar sales
            raise DataError(f"none of the {data.n_series} series sold anything in the last {len(recent)} training days "
                            f"({recent[0]}..{recent[-1]}), so the holdout WRMSSE has no weights: keep series that "
                            "sell then (a larger --items" + (", or move sales_train_evaluation.csv out of the data "
                            "folder to train without a score)" if config.data_dir else " or another --seed)"))
        return
    last = day_columns(data.sales.columns)[-1]
    raise DataError(f"sales_train_evaluation.csv: has only {len(days)} day(s) after sales_train_validation.csv's last "
                    f"day {last} ({days[0]}..{days[-1]}), but scoring the {config.horizon}-day forecast needs "
                    f"{config.horizon}: use the evaluation file of the same M5 release, or move it out of the data "
                    "folder to forecast without a score")


def _days_needed(windower) -> int:
    """Fewest days of sales any group needs for one training example with this windower (a lower bound)."""
    members = getattr(windower, "windowers", None)
    if members:  # a blend or a weekly stitch: its easiest member
        return min(_days_needed(w) for w in members)
    settings = getattr(windower, "_settings", None)
    if callable(settings):  # LagFeatures: a target day `shift` days after a first known day on sale
        return settings()[1] + 1
    window = getattr(windower, "window", None)
    return int(window) + 1 if window else 2  # the CNN-LSTM's window, then one day (its recursive fallback)


def _check_enough_days(config: RunConfig, data) -> None:
    """Refuse sales too short for any group to train, before the cluster starts (every group would be skipped)."""
    days = day_columns(data.sales.columns)
    try:
        need = _days_needed(Run(Path("."), config, data).pipeline()[-1].windower)
    except M5kitError:
        return  # the settings' own problems are named by the fit
    if len(days) >= need:
        return
    what = ("the CNN-LSTM's window" if config.model == "cnn-lstm"
            else f"{MODEL_NAMES[config.model].split()[0]}'s {config.strategy} strategy")
    fix = "lower --window or give" if config.model == "cnn-lstm" else "give"
    raise DataError(f"the sales hold {len(days)} day(s) ({days[0]}..{days[-1]}) but one training example of "
                    f"{what} needs at least {need}, so no group could be fitted: {fix} a sales file with more days")


#: Groups checked one at a time for one that can train, before all are checked at once (:func:`_check_some_group_fits`).
_GROUPS_ALONE = 10
#: Days at the end of the sales (at least; more for a long window) that groups are first checked on
#: (:func:`_short_groups`): at levels 1 and 3 of the 3,049 series of `m5kit data generate --items 3049 --stores 1
#: --seed 0`, 0.2 CPU-s instead of 1.7-5.0 for their whole history.
_RECENT_DAYS = 112


def _group_check(config: RunConfig, data):
    """A function of wide sales: their number of groups, and each group too short to train with the reason."""
    pipe = Run(Path("."), config, data).pipeline()
    grouped = pipe[-1]
    recent = max(_RECENT_DAYS, 2 * (_days_needed(grouped.windower) + config.horizon))

    def short(sales, last_days: bool = False) -> tuple[int, dict[str, str]]:
        if last_days:
            days = day_columns(sales.columns)
            sales = sales.drop(columns=days[:-recent])
        parts = grouped._split(pipe[:-1].fit_transform(sales))
        return len(parts), grouped._group_problems(parts, grouped._fit_setup(parts))

    return short


def _short_groups(config: RunConfig, data, sales=None, check=None) -> tuple[int, dict[str, str]]:
    """The number of groups of ``sales`` (default: the run's) and those too short to train, with the reason.

    The groups are checked on their last days first: a group that trains on them trains on its whole history
    (a window or a training row within the last days is one of the whole history).
    Only the groups short on their last days are checked again on their whole history, so the answer is the
    same as checking every group on its whole history. Raises the settings' or the data's own M5kitError.
    """
    from m5kit.hierarchy import group_names

    check = check or _group_check(config, data)
    sales = data.sales if sales is None else sales
    try:
        n_groups, maybe = check(sales, last_days=True)
    except M5kitError:  # something of the last days alone (an item without a price in them): the whole history says
        return check(sales)
    if not maybe:
        return n_groups, maybe
    rows = group_names(sales, config.level).isin(list(maybe)).to_numpy()
    n_short, problems = check(sales[rows]) if rows.any() else (0, {})
    if n_short != len(maybe):  # group names of another form than the pipeline's: every group on its whole history
        return check(sales)
    return n_groups, problems


def _check_some_group_fits(config: RunConfig, data) -> None:
    """Refuse data on which no group has a training example (items launched late, say), before the cluster starts.

    Every group would be skipped after the cluster started and run.json was written. The first groups are
    checked one at a time (one group that trains is enough; a group's own series cost milliseconds); only when
    none of the first :data:`_GROUPS_ALONE` can train are all the groups checked at once (seconds at level 12).
    Each check reads the groups' last days first (:func:`_short_groups`).
    """
    from m5kit.hierarchy import group_names

    try:
        check = _group_check(config, data)
        names = group_names(data.sales, config.level)
        for name in names.unique()[:_GROUPS_ALONE]:
            n_alone, problems = _short_groups(config, data, data.sales[(names == name).to_numpy()], check)
            if len(problems) < n_alone:
                return
        n_groups, problems = _short_groups(config, data, check=check)
    except M5kitError:
        return  # the settings' own problems are named by the fit
    if len(problems) < n_groups:
        return
    first = next(iter(problems.values()))
    for advice in (": lower the window or leave the group out", "; leave the group out"):  # no help for every group
        first = first.removesuffix(advice)
    more = f"; the {n_groups - 1} other group(s) are as short" if n_groups > 1 else ""
    fix = "lower --window or give" if window_helps(problems.values()) else "give"
    raise DataError(f"no group of level {config.level} has enough history to train, so nothing was fitted: "
                    f"{first}{more}: {fix} sales with longer histories")


def _check_no_group_short(config: RunConfig, data) -> bool:
    """``--on-short error``: refuse data with a group too short to train before the cluster starts (one line).

    Returns whether every group was checked (False: the settings' own problems, which the fit names).
    """
    try:
        n_groups, short = _short_groups(config, data)
    except M5kitError:
        return False  # the settings' own problems are named by the fit
    if not short:
        return True
    names = ", ".join(list(short)[:5]) + (f" and {len(short) - 5} more" if len(short) > 5 else "")
    first = next(iter(short.values()))
    for advice in (": lower the window or leave the group out", "; leave the group out"):
        first = first.removesuffix(advice)
    fix = "lower --window or give" if window_helps(short.values()) else "give"
    raise GroupError(f"{len(short)} of {n_groups} group(s) of level {config.level} have too little history to train "
                     f"({names}), so nothing was fitted: {first}: {fix} sales with longer histories, or pass "
                     "--on-short skip to fit the other groups")


def window_helps(reasons) -> bool:
    """Whether a lower window would fit some of the groups skipped for these reasons (the Windower's: a CNN-LSTM
    group with a short history; not one never on sale with sales, nor a LightGBM or XGBoost group)."""
    return any(str(reason).endswith(": lower the window or leave the group out") for reason in reasons)


def _require_library(model: str) -> None:
    """Fail now, in one line, when a gradient-boosted model's library is not installed."""
    from m5kit.models.gbm import make_lightgbm, make_xgboost

    (make_lightgbm if model == "lightgbm" else make_xgboost)()


#: RunConfig fields that only the CNN-LSTM reads: a LightGBM or XGBoost run differing in them is the same run.
_CNN_ONLY = ("epochs", "window", "max_windows")


@contextlib.contextmanager
def holding(out: Path, what: str, other: str = "pass another --out"):
    """Hold the run folder ``out``'s lock (:data:`RUN_LOCK`) as the command ``what``, the folder existing.

    Another command holding it is a :class:`~m5kit.store.RunLockedError` naming it and its process; a lock left by
    a process that no longer runs is taken over.
    """
    record = lock_folder(out, RUN_LOCK, what, other)
    try:
        yield record
    finally:  # however the command ends (done, an error, Ctrl-C)
        unlock_folder(out, RUN_LOCK, record)


@contextlib.contextmanager
def holding_run(out: str | os.PathLike, what: str, name: str = "out"):
    """The run folder ``out`` of a finished run (said at once when it holds none), under its lock as the command
    ``what`` (:func:`holding`): predict, evaluate and report, which a train writing the folder would undercut."""
    out = _checks.path(out, name, "the run folder (the --out of `m5kit train`)")
    check_run_folder(out)  # a folder of no run is said as such, before a lock is written into it
    with holding(out, what, "give another --run"):
        yield out


def refuse_busy(out: str | os.PathLike, what: str, other: str = "pass another --out") -> None:
    """Raise :class:`~m5kit.store.RunLockedError` if another command holds the folder ``out``'s lock now: said before
    slow work (reading M5's data: 12 s and 600 MB), where :func:`holding` takes the lock later."""
    if Path(out).is_dir():
        refuse_live_lock(Path(out), RUN_LOCK, what, other)


def _no_run(folder: Path) -> StoreError:
    """The error for a folder without ``run.json``: a blend's output folder is named as such."""
    if (folder / BLEND_FILE).exists():  # it was "holds no m5kit run", of a folder m5kit wrote
        return StoreError(f"{folder} is the output of `m5kit blend`, not a run (its submission.csv and scores.csv are "
                          "there): give the --out folder of `m5kit train`")
    if not folder.exists() and not folder.is_symlink():  # a typo: "holds no m5kit run" read as a damaged run
        return StoreError(f"the run folder {folder} does not exist: give the --out folder of `m5kit train`")
    return StoreError(f"{folder} holds no m5kit run (no {RUN_FILE}): give the --out folder of `m5kit train`")


def _claim_folder(out: Path, config: RunConfig, overwrite: bool, lock: contextlib.ExitStack | None = None) -> RunConfig:
    """Make ``out`` the folder of the run ``config`` (resumed, or cleared with ``overwrite``); returns the run's settings.

    A gradient-boosted run resumed with other CNN-LSTM-only settings (``--epochs``, ``--window``) keeps those it was
    trained with: they change none of its models. With ``lock``, the folder's lock is taken first and held until
    ``lock`` closes (another command using the folder is a :class:`~m5kit.store.RunLockedError`).
    """
    if out.exists() and not out.is_dir():
        raise StoreError(f"output {out} is a file: give a folder for the run")
    blocking = file_in_the_way(out)
    if blocking is not None:
        raise StoreError(f"cannot make the run folder {out}: {blocking} is a file, not a folder: give --out a folder path")
    if lock is not None:  # before run.json is read: a train that starts now in the folder waits for none of it
        # a command that stops before writing anything leaves no empty folder behind (nor those made above it)
        lock.callback(undo_claim, None, new_folders(out))
        _make_folder(out)
        lock.enter_context(holding(out, "m5kit train"))
    existing = _read_config(out)
    compared = existing
    if existing is not None and existing.data_dir and not os.path.isabs(existing.data_dir):
        # a run recorded before data folders were stored absolute: its path was relative to where it was trained
        compared = replace(existing, data_dir=os.path.abspath(existing.data_dir))
    if existing is not None and config.model != "cnn-lstm" and existing.model == config.model:
        config = replace(config, **{name: getattr(existing, name) for name in _CNN_ONLY})
    if existing is not None and _data_of(config)[:2] == _data_of(existing)[:2]:  # --items 139 or none: the same data
        config = replace(config, items=existing.items)
    if existing is not None and compared != config:
        if not overwrite:
            diff = [k for k, v in asdict(config).items() if getattr(compared, k) != v]
            # runs made before pretraining became the default of levels 11 and 12 resume with --pretrain-level none
            resume = ("resume it with --pretrain-level none, " if diff == ["pretrain_level"]
                      and existing.pretrain_level is None else "")
            raise StoreError(
                f"output folder {out} holds a different run ({', '.join(f'{k}={getattr(existing, k)!r}' for k in diff)}): "
                f"{resume}choose another --out or pass --overwrite"
            )
        _clear_run(out)
    elif existing is not None:
        try:
            _check_store_config(out, existing, fix="or pass --overwrite to train the run anew")
        except StoreError:
            if not overwrite:
                raise
            _clear_run(out)
    elif existing is None and holds_files(out, besides=lambda name: name.startswith(RUN_LOCK)):
        raise StoreError(f"output folder {out} is not empty and holds no m5kit run: choose a new or empty folder")
    remove_temp_files(out)
    return config


def _make_folder(out: Path) -> None:
    """Make the run folder ``out`` (and those above it); one StoreError line when it cannot be made."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # no permission, a full disk
        raise StoreError(f"cannot make the run folder {out} ({exc.strerror or type(exc).__name__}): "
                         "choose another --out") from None


def _clear_run(out: Path) -> None:
    from m5kit.store import ModelStore

    ModelStore(out / "models").clear()
    for name in (RUN_FILE, *OUTPUTS):
        (out / name).unlink(missing_ok=True)
    _remove_report(out)


def _read_config(out: Path) -> RunConfig | None:
    found = _read_run_file(out)
    return None if found is None else found[0]


def _read_run_file(out: Path) -> tuple[RunConfig, dict | None] | None:
    """A run folder's run.json, read once: its settings and what it recorded of the data at training.

    None without run.json; the record of the data is None for a run trained before m5kit recorded it.
    """
    path = out / RUN_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        settings = record.get("config") if isinstance(record, dict) else None
        if not isinstance(settings, dict):
            raise ValueError("it holds no 'config' object of settings")
        unknown = [k for k in settings if k not in {f.name for f in fields(RunConfig)}]
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}")
        config = RunConfig(**settings)
        if config.data_dir is not None and not isinstance(config.data_dir, str):
            raise ValueError(f"its data_dir {config.data_dir!r} is not a folder path")
        trained = record.get("data")
        files = trained.get("files") if isinstance(trained, dict) else None
        if files is not None and not (isinstance(files, dict) and all(
                stat is None or (isinstance(stat, list) and len(stat) >= 2) for stat in files.values())):
            raise ValueError("its record of the data files is damaged")
    except (OSError, ValueError, TypeError) as exc:
        raise StoreError(f"{path} is unreadable ({exc}): put the run's own {RUN_FILE} back, or train the run again "
                         "in a new folder") from None
    return config, trained if isinstance(trained, dict) else None


#: run.json settings that :func:`_check_store_config` leaves to :meth:`Run.predict`'s own checks (their lines name the
#: models or groups the store holds, for runs trained before the store recorded the settings too).
_CHECKED_BY_PREDICT = ("model", "level")


def _record_config(store_path: Path, config: RunConfig) -> None:
    """Write the run's settings into its model store's manifest, to notice later a run.json edited by hand."""
    from m5kit.store import ModelStore

    store = ModelStore(store_path)
    manifest = store.read_manifest()
    if manifest is not None:
        store.write_manifest({**manifest, "config": asdict(config)})


def _check_store_config(out: Path, config: RunConfig, fix: str = "or train the run again") -> None:
    """Refuse, in one line, a run.json whose settings differ from those its model store was trained with.

    Runs trained before the store recorded them (no ``config`` in its manifest) are not checked.
    """
    from m5kit.store import ModelStore

    try:
        recorded = (ModelStore(out / "models").read_manifest() or {}).get("config")
        trained = asdict(RunConfig(**recorded)) if isinstance(recorded, dict) else None
    except (StoreError, TypeError):
        return  # an unreadable manifest is named by whatever reads the store
    if trained is None:
        return
    now = json.loads(json.dumps(asdict(config), default=str))
    trained = json.loads(json.dumps(trained, default=str))
    if config.data_dir and not os.path.isabs(config.data_dir):
        now["data_dir"] = trained.get("data_dir")  # recorded relative by an older m5kit (:func:`_check_data_folder`)
    diff = [k for k in now if now[k] != trained.get(k) and k not in _CHECKED_BY_PREDICT]
    if diff:
        said = ", ".join(f"{k}={now[k]!r}" for k in diff)
        then = ", ".join(f"{k}={trained.get(k)!r}" for k in diff)
        raise StoreError(f"{out / RUN_FILE} says {said} but its model store {out / 'models'} was trained with {then}: "
                         f"put the run's own {RUN_FILE} back, {fix}")


def _check_data_folder(config: RunConfig, out: Path) -> None:
    """One line when a run's data folder is gone (or, recorded relative by an older m5kit, is not found from here)."""
    if config.data_dir and not Path(config.data_dir).is_dir():
        relative = "" if os.path.isabs(config.data_dir) else (
            " (a path relative to the folder `m5kit train` ran in: run this command from there)")
        raise DataError(f"the data folder {config.data_dir} of the run {out} does not exist{relative}: put the run's "
                        "M5 files back there")


def open_run(out: str | os.PathLike) -> Run:
    """Open a finished (or partly finished) run folder and reload its data.

    Parameters
    ----------
    out : path
        The run folder (the ``--out`` of ``m5kit train``), holding ``run.json``.

    Returns
    -------
    Run
        The folder, its :class:`RunConfig` and its data (:func:`load_data`).

    Raises
    ------
    StoreError
        The folder holds no ``run.json``, or it is unreadable.
    DataError
        The run's data folder can no longer be read (see :func:`m5kit.datasets.load_m5`).
    """
    out = _checks.path(out, "out", "the run folder (the --out of `m5kit train`)")
    config, trained = check_run_folder(out)
    files = data_files(config.data_dir)  # before reading, as at training
    return Run(out, config, _load_data(config), files=files, trained=trained)


def check_run_folder(out: str | os.PathLike) -> tuple[RunConfig, dict | None]:
    """Read a run folder's settings without loading its data: what :func:`open_run` checks first.

    A command that starts a cluster calls it before, so that a folder that
    holds no run is said at once.

    Parameters
    ----------
    out : path
        The run folder (the ``--out`` of ``m5kit train``).

    Returns
    -------
    config : RunConfig
    trained : dict or None
        What the run recorded of its data files at training (None for runs
        trained before m5kit recorded them).

    Raises
    ------
    StoreError
        The folder holds no ``run.json``, or it is unreadable.
    DataError
        The run's data folder is gone or is not a folder.
    """
    out = _checks.path(out, "out", "the run folder (the --out of `m5kit train`)")
    found = _read_run_file(out)
    if found is None:
        raise _no_run(out)
    config, trained = found
    _check_store_config(out, config)
    _check_data_folder(config, out)
    return config, trained


def predict_run(out: str | os.PathLike, **params) -> pd.DataFrame:
    """Forecast with a run's stored models; returns the M5 submission table.

    The tidy forecast and the submission are also written to the run folder
    (``forecast.csv``, ``submission.csv``).

    Parameters
    ----------
    out : path
        The run folder (see :func:`open_run`).
    **params
        Passed to :meth:`Run.predict`: ``client``, ``n_workers``,
        ``scheduler``, ``progress``.

    Returns
    -------
    DataFrame
        ``id`` then ``F1 ... F<horizon>`` (:func:`~m5kit.forecasting.submission.to_submission`).

    Raises
    ------
    StoreError
        No run in ``out`` (see :func:`open_run`), some group has no stored model, or the last train stopped before
        its end (killed while it refitted groups whose data changed) or failed to fit some group.
    RunLockedError
        A train (or another predict) is writing the run folder: nothing was read or written.

    Warns
    -----
    DataChangedWarning
        The run's data files changed since it was trained (their size or
        content, recorded in run.json): the forecast is made from
        the data as it is now (the ``horizon`` days after its last day) with
        the models fitted on the old data. Runs trained before m5kit recorded
        the files are not checked.
    """
    from m5kit.forecasting.submission import to_submission

    # a train still writing the run: its store is unfinished (it was "run the same `m5kit train` command again")
    with holding_run(out, "m5kit predict") as out:
        run = open_run(out)
        run._locked = True
        return to_submission(run.predict(**params), horizon=run.config.horizon)


def evaluate_run(out: str | os.PathLike) -> pd.DataFrame:
    """WRMSSE table (levels 1-12 and overall) of a run's forecast and the baselines.

    The table is also written to the run folder as ``scores.csv``.

    Parameters
    ----------
    out : path
        The run folder (see :func:`open_run`); its ``forecast.csv`` is scored.

    Returns
    -------
    DataFrame
        ``level`` (``"1"`` ... ``"12"``, ``"all"``), then one column per
        forecast: the run's model, then each baseline.

    Raises
    ------
    StoreError
        No run in ``out``, or its ``forecast.csv`` is missing or unreadable.
    DataError
        The run's data has no known future days to score against.
    RunLockedError
        Another command (an `m5kit train`) is writing the run folder: nothing was written.
    """
    # a train writing the run removed its forecast (it was "forecast.csv does not exist: run `m5kit train` first")
    with holding_run(out, "m5kit evaluate") as out:
        return open_run(out).evaluate()



def _data_of(config: RunConfig) -> tuple:
    """What decides a run's data: the same key, the same series and days."""
    data_dir = None if config.data_dir is None else str(Path(config.data_dir).resolve())
    items = DEFAULT_ITEMS if config.items is None and data_dir is None else config.items  # the built-in data's default
    return data_dir, items, None if data_dir else config.seed, config.horizon


def _check_same_days(folders: list[Path], forecasts: list[pd.DataFrame]) -> None:
    """One line naming two runs whose forecasts are of different days (one was predicted again on newer data)."""
    def span(forecast):
        days = sorted(set(forecast["d"].astype(str)), key=lambda d: (len(d), d)) if "d" in forecast.columns else []
        return (days[0], days[-1]) if days else None

    first = span(forecasts[0])
    for folder, forecast in zip(folders[1:], forecasts[1:]):
        other = span(forecast)
        if first is not None and other is not None and other != first:
            raise DataError(f"{folder / 'forecast.csv'} forecasts {other[0]}..{other[1]} but {folders[0] / 'forecast.csv'} "
                            f"forecasts {first[0]}..{first[1]}: run `m5kit predict --run` for each run on the data "
                            "as it is now, then blend them")


def blend_runs(runs, out: str | os.PathLike, *, weights=None) -> pd.DataFrame | None:
    """Average the forecasts of finished runs on the same data into a new folder, and score them.

    As the M5 winners averaged models per store and per store and department:
    on the real store CA_1 the mean of ``m5kit train --model lightgbm --level
    3`` and ``--level 9 --strategy blend`` was 14.3% below AutoETS over four
    28-day windows (10.1-17.6% per window), each alone 9.4% and 11.3%
    (benchmarks/RESULTS.md "Two levels averaged").

    Parameters
    ----------
    runs : sequence of path
        At least two run folders of ``m5kit train`` (any model, level or
        strategy), each with its ``forecast.csv``, all on the same data
        (data folder, items, built-in seed and horizon).
    out : path
        New (or empty) folder for ``forecast.csv``, ``submission.csv``,
        ``blend.json`` (the runs and weights) and, when the true future is
        known, ``scores.csv``. A blend folder there is replaced.
    weights : sequence of float, optional
        One weight >= 0 per run; by default equal weights.

    Returns
    -------
    DataFrame or None
        The WRMSSE table (levels 1-12 and ``all``; one column per run, the
        blend, then each baseline), or None when the data has no known
        future days.

    Raises
    ------
    ParamError
        Fewer than two runs, or bad weights; ``runs`` or ``weights`` given
        as one text (``"1,2"``, not ``[1, 2]``).
    StoreError
        A folder that holds no run or no forecast, or an ``out`` that is a
        file, a run or a non-empty folder of something else.
    DataError
        Runs on different data, or forecasts of different days (one run was
        predicted again after days were appended to the data).

    Warns
    -----
    DataChangedWarning
        The data files changed since some of the runs were trained.
    """
    from m5kit.forecasting.submission import mean_forecast, to_submission

    if isinstance(runs, (str, bytes, os.PathLike)):  # one folder, read letter by letter (or not iterable)
        raise ParamError(f"invalid runs {str(runs)!r}: give a list of at least two run folders")
    folders = [Path(r) for r in runs]
    if len(folders) < 2:
        raise ParamError(f"blend needs at least two runs, got {len(folders)}: give the --out folders of two `m5kit train` runs")
    _checks.weights(weights, len(folders), "run", "runs")  # before any run is read (mean_forecast checks them again)
    out = _checks.path(out, "out", "a new or empty folder for the blend")
    if out.exists() and not out.is_dir():
        raise StoreError(f"{out} is a file: give a new or empty folder for the blend")
    blocking = file_in_the_way(out)
    if blocking is not None:
        raise StoreError(f"cannot make the blend folder {out}: {blocking} is a file, not a folder: give --out a folder path")
    if (out / RUN_FILE).exists():
        raise StoreError(f"{out} holds an m5kit run: give a new or empty folder for the blend")
    if holds_files(out) and not (out / BLEND_FILE).exists():  # a killed blend's temporary files are its own
        raise StoreError(f"{out} is not empty and holds no blend: give a new or empty folder")
    if any(f.resolve() == out.resolve() for f in folders):
        raise StoreError(f"{out} is one of the runs: give a new folder for the blend")
    seen: set[Path] = set()
    for folder in folders:
        if folder.resolve() in seen:
            raise ParamError(f"the run {folder} is given twice: blend different runs (--weights weighs one run more)")
        seen.add(folder.resolve())
    configs, trained = [], []
    for folder in folders:
        found = _read_run_file(folder)
        if found is None:
            raise _no_run(folder)
        _check_store_config(folder, found[0])
        configs.append(found[0])
        trained.append(found[1])
    first = _data_of(configs[0])
    for folder, config in zip(folders[1:], configs[1:]):
        if _data_of(config) != first:
            keys = ("data folder", "items", "built-in seed", "horizon")
            which = next(k for k, a, b in zip(keys, _data_of(config), first) if a != b)
            raise DataError(f"{folder} and {folders[0]} were trained on different data (their {which} differs): "
                            "blend runs of the same data")
    forecasts = []
    for folder in folders:
        path = folder / "forecast.csv"
        if not path.exists():
            raise StoreError(f"{path} does not exist: finish `m5kit train` (or run `m5kit predict`) for {folder} first")
        forecasts.append(read_run_table(path, f"`m5kit predict --run {shlex.quote(str(folder))}` writes it again"))
    _check_data_folder(configs[0], folders[0])
    files = data_files(configs[0].data_dir)  # before reading, as at training
    data = _load_data(configs[0])
    opened = [Run(folder, config, data, files=files, trained=record)
              for folder, config, record in zip(folders, configs, trained)]
    for run, forecast in zip(opened, forecasts):
        run.check_forecast_days(forecast, run.out / "forecast.csv")  # names the run whose forecast is of other days
        run.check_forecast_series(forecast, run.out / "forecast.csv", blend=True)  # and the run that skipped groups
        run.check_forecast_values(forecast, run.out / "forecast.csv")  # and the run whose forecast holds NaN
        run.check_forecast_table(forecast, run.out / "forecast.csv")  # and the run whose forecast has a day twice
    _check_same_days(folders, forecasts)
    changed = [run for run in opened if run.changed_files()]
    if changed:
        names = sorted({name for run in changed for name in run.changed_files()}, key=DATA_FILES.index)
        warnings.warn(f"the data in {configs[0].data_dir} changed since {', '.join(str(r.out) for r in changed)} "
                      f"{'was' if len(changed) == 1 else 'were'} trained ({', '.join(names)}: size or content "
                      "differ): the blend is made and scored with the data as it is now; run the same `m5kit train` "
                      "commands again to refit", DataChangedWarning, stacklevel=2)
    blend = mean_forecast(forecasts, weights=weights)
    submission = to_submission(blend, data.sales, horizon=configs[0].horizon)
    scores = None
    if data.future is not None:
        names = [f"{f.name}: {MODEL_NAMES[c.model]}, level {c.level}" for f, c in zip(folders, configs)]
        if len(set(names)) < len(names):
            names = [f"{f}: {MODEL_NAMES[c.model]}, level {c.level}" for f, c in zip(folders, configs)]
        scores = score_forecasts(data, {**dict(zip(names, forecasts)), "blend (m5kit)": blend,
                                        **baseline_forecasts(data.sales, configs[0].horizon)})
    again = "run the same `m5kit blend` command again"
    with _writing(out, again):
        out.mkdir(parents=True, exist_ok=True)
    remove_temp_files(out)  # of a blend that was killed as it wrote
    record = {"runs": [str(f.resolve()) for f in folders],
              "weights": None if weights is None else [float(w) for w in weights]}
    writes = {out / BLEND_FILE: lambda fh: json.dump(record, fh, indent=1, sort_keys=True)}
    for name, frame in (("forecast.csv", blend), ("submission.csv", submission), ("scores.csv", scores)):
        if frame is not None:
            writes[out / name] = lambda fh, frame=frame: frame.to_csv(fh, index=False)
    # all written before any is replaced: a failure midway keeps an older blend whole, never old files beside new
    with _writing(f"the blend in {out}", again):
        write_together(writes)
    if scores is None:
        (out / "scores.csv").unlink(missing_ok=True)  # an older blend's: scored another forecast
    return scores
