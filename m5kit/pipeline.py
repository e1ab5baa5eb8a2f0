"""``make_pipeline``: the whole m5kit flow as one scikit-learn Pipeline."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from m5kit import _checks
from m5kit._schema import HORIZON, MODELS, STRATEGIES
from m5kit.errors import ParamError
from m5kit.hierarchy import LEVEL_NAMES, check_level, contains

__all__ = ["make_pipeline", "check_pipeline", "check_pretrain_level", "read_pretrain_level", "resolve_strategy", "weekly_horizons",
           "models_per_group", "WEEK", "DEFAULT_MAX_WINDOWS",
           "DEFAULT_PRETRAIN_LEVELS", "FINETUNE_PARAMS", "MODELS", "STRATEGIES"]

#: Days each model of ``strategy="weekly"`` forecasts.
WEEK = 7

#: Cap on the training windows of one group, a random sample over the whole
#: history (keeps level 1, one model over every series, trainable on a laptop;
#: level 10-12 groups stay below it). On the real store CA_1 at level 3 (one
#: group, ~5.7 M windows) 100,000 windows instead of 20,000 took the direct
#: CNN-LSTM's WRMSSE from 0.60-0.75 to 0.54-0.60 over three seeds, for ~50 CPU-s.
DEFAULT_MAX_WINDOWS = 100_000

#: The CNN-LSTM's fine-tune after pretraining (``make_pipeline(pretrain_level=...)``): half the
#: epochs at under half the learning rate, so that each group adapts its parent's model to its own
#: series without forgetting what the parent learned from all of them. Chosen on two samples of 300
#: series of the real store CA_1 (benchmarks/RESULTS.md, "Pretrained per store, fine-tuned per series").
FINETUNE_PARAMS: dict[str, Any] = {"epochs": 5, "model__learning_rate": 2e-3}

#: The pretrain level of ``pretrain_level="auto"`` (the default of ``make_pipeline`` and
#: ``m5kit train``) for one CNN-LSTM per group: the store for level 12 (item x store), the state
#: for level 11 (item x state). A network per series learns little from one series' two years,
#: most of them zeros for a slow mover; started from its store's network it scored 0.556 against
#: 0.592 on the whole real store CA_1 at level 12, and 0.600 against 0.646 on the built-in data at
#: level 11, the README's main job (benchmarks/RESULTS.md). Other levels' groups hold many series
#: each: at level 9, pretraining per store scored worse (0.583 against 0.558), so they start from
#: fresh weights.
DEFAULT_PRETRAIN_LEVELS: dict[int, int] = {11: 2, 12: 3}


def resolve_strategy(model: str, strategy: str | None = None) -> str:
    """The checked ``strategy``, or the default for ``None``: direct for every family.

    Direct is also LightGBM's default: on the two 28-day windows of the real store CA_1 before M5's
    holdout its recursive forecast scored 0.73-0.78, where direct scored 0.43-0.59 and AutoETS
    0.54-0.62; recursive won only on the holdout itself (benchmarks/RESULTS.md, "Three holdout
    windows").

    Parameters
    ----------
    model : str
        The model family (:data:`MODELS`).
    strategy : {"direct", "recursive", "blend", "weekly"}, optional
        The strategy asked for; None gives ``"direct"``.

    Returns
    -------
    str

    Raises
    ------
    ParamError
        ``strategy`` is not one of :data:`STRATEGIES`, or is ``"weekly"``
        with ``model="cnn-lstm"``.

    Examples
    --------
    >>> resolve_strategy("cnn-lstm"), resolve_strategy("lightgbm"), resolve_strategy("xgboost")
    ('direct', 'direct', 'direct')
    """
    if strategy is None:
        return "direct"
    strategy = _checks.choice(strategy, "strategy", STRATEGIES)
    if strategy == "weekly" and model == "cnn-lstm":
        raise ParamError("strategy 'weekly' is for the gradient-boosted models ('lightgbm', 'xgboost'): the "
                         "CNN-LSTM's direct forecast already reads the days just before the horizon; use 'direct'")
    return strategy


def weekly_horizons(horizon: int = HORIZON) -> tuple[int, ...]:
    """The horizons of ``strategy="weekly"``'s models: one per week of the forecast, the last one ``horizon``.

    Parameters
    ----------
    horizon : int, default=28
        Days forecast.

    Returns
    -------
    tuple of int
        ``7, 14, ...`` below ``horizon``, then ``horizon``.

    Raises
    ------
    ParamError
        ``horizon`` is not a whole number of at least 1.

    Examples
    --------
    >>> weekly_horizons(28), weekly_horizons(10), weekly_horizons(5)
    ((7, 14, 21, 28), (7, 10), (5,))
    """
    horizon = _checks.whole(horizon, "horizon")
    return (*range(WEEK, horizon, WEEK), horizon)


def _members(strategy: str, seeds: int, horizon: int) -> list[tuple[str, int, int]]:
    """(way, horizon, seed offset) of each model of a group."""
    if strategy == "weekly":
        return [("direct", h, k) for h in weekly_horizons(horizon) for k in range(seeds)]
    ways = ("recursive", "direct") if strategy == "blend" else (strategy,)
    return [(way, horizon, k) for way in ways for k in range(seeds)]


def models_per_group(strategy: str, seeds: int = 1, horizon: int = HORIZON) -> int:
    """How many models ``make_pipeline(strategy=..., seeds=...)`` fits per group.

    Parameters
    ----------
    strategy : {"direct", "recursive", "blend", "weekly"}
        Taken as given (not checked: see :func:`resolve_strategy`).
    seeds : int, default=1
        Models per way (per week, with ``"weekly"``).
    horizon : int, default=28
        Days forecast (the number of weeks of ``"weekly"``).

    Returns
    -------
    int
        ``seeds``, twice that for ``"blend"``, or ``seeds`` per week
        (:func:`weekly_horizons`) for ``"weekly"``.

    Raises
    ------
    ParamError
        With ``"weekly"``, ``horizon`` is not a whole number of at least 1.

    Examples
    --------
    >>> models_per_group("direct"), models_per_group("blend", 2), models_per_group("weekly")
    (1, 4, 4)
    """
    return len(_members(strategy, seeds, horizon))


def _default_estimator(model: str, epochs: int, random_state):
    if model == "cnn-lstm":
        from m5kit.models import CNNLSTMRegressor

        # No hold-out: the regressor's 10% hold-out would be the group's last ~190 days, the ones
        # closest to the forecast, never trained on. On the real store CA_1 (benchmarks/RESULTS.md)
        # training on them lowered WRMSSE at levels 3, 9 and 12 and on two samples of 300 series.
        estimator = CNNLSTMRegressor(epochs=epochs, validation_split=0.0)
        estimator._check_params()  # epochs=0 now, not as each group's GroupFitError after the cluster started
        return estimator
    from m5kit.models.gbm import make_lightgbm, make_xgboost

    make = make_lightgbm if model == "lightgbm" else make_xgboost
    return make(random_state=0 if random_state is None else random_state)


def _default_windower(model: str, strategy: str, window: int, horizon: int, max_windows, random_state):
    if model == "cnn-lstm":
        from m5kit.transformers import Windower

        direct = strategy == "direct"
        windower = Windower(window=window, horizon=horizon if direct else 1, max_windows=max_windows,
                            random_state=random_state, fallback_horizon=1 if direct else None)
        windower._check_params()  # window=0 now, not at each group's fit
        return windower
    from m5kit.forecasting.features import LagFeatures

    return LagFeatures(strategy=strategy, horizon=horizon)


def _refuse_unused(estimator, windower, **given) -> None:
    """Refuse ``epochs`` (with your own ``estimator``) and ``window``, ``max_windows`` (with your own ``windower``)
    at other values than their defaults: they set only m5kit's default CNN-LSTM and Windower (they were dropped)."""
    defaults = {"epochs": 10, "window": 28, "max_windows": DEFAULT_MAX_WINDOWS}
    owner = {"epochs": estimator, "window": windower, "max_windows": windower}
    unused = {name: value for name, value in given.items()
              if owner[name] is not None and not (value is defaults[name] or value == defaults[name])}
    if not unused:
        return
    names = ", ".join(f"{name}={value!r}" for name, value in unused.items())
    kinds = dict.fromkeys("estimator" if name == "epochs" else "windower" for name in unused)
    yours = " and ".join(kinds)
    defaults_of = " and ".join({"estimator": "CNN-LSTM", "windower": "Windower"}[kind] for kind in kinds)
    one = len(unused) == 1
    raise ParamError(f"{names} {'does' if one else 'do'} not apply with your own {yours} "
                     f"({'it sets' if one else 'they set'} m5kit's default {defaults_of}): drop {'it' if one else 'them'}, "
                     f"or set the parameters of your own {yours} instead")


def read_pretrain_level(value, name: str = "pretrain_level") -> int | str | None:
    """A pretrain level as given: None, ``"auto"``, ``"none"`` (any case) or a checked level 1-12.

    Parameters
    ----------
    value : int, str or None
        The pretrain level; text is stripped (``" Auto "``, ``"3"``).
    name : str, default="pretrain_level"
        How the error message names the parameter.

    Returns
    -------
    int, {"auto", "none"} or None

    Raises
    ------
    ParamError
        ``value`` is none of these.

    Examples
    --------
    >>> read_pretrain_level(" Auto "), read_pretrain_level("3")
    ('auto', 3)
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ("auto", "none"):
        return value.strip().lower()
    try:
        return check_level(value)
    except ParamError as exc:
        raise ParamError(f"{name}: {exc}, 'auto' or 'none'") from None


def check_pretrain_level(pretrain_level, level: int, model: str, n_models: int = 1, *, name: str = "pretrain_level",
                         hint: str = "model 'cnn-lstm', seeds=1, strategy 'direct' or 'recursive'") -> int | None:
    """The checked pretrain level of a ``level`` run: None, or a level whose groups contain ``level``'s.

    Pretraining needs one CNN-LSTM per group (``n_models`` models per group with seeds or a blend
    cannot start from one parent). ``"auto"`` is :data:`DEFAULT_PRETRAIN_LEVELS`' level for such a
    run and None for any other (``"none"`` is None too). ``name`` and ``hint`` word the error for the
    caller (the CLI's ``--pretrain-level``).

    Parameters
    ----------
    pretrain_level : int, str or None
        As :func:`read_pretrain_level` reads it: None, ``"auto"``, ``"none"``
        or a level 1-12.
    level : int
        The run's level (1-12).
    model : str
        The run's model family (:data:`MODELS`).
    n_models : int, default=1
        Models per group (:func:`models_per_group`).
    name : str, default="pretrain_level"
        How the error messages name the parameter.
    hint : str
        What the error message says pretraining works with.

    Returns
    -------
    int or None
        The level to pretrain at, or None for no pretraining.

    Raises
    ------
    ParamError
        ``pretrain_level`` is not None, ``"auto"``, ``"none"`` or a level
        1-12; or a level is given for another model than ``"cnn-lstm"`` or
        with more than one model per group; or it is ``level`` itself, or its
        groups do not contain ``level``'s (the message lists the levels that do).

    Examples
    --------
    >>> check_pretrain_level(3, 12, "cnn-lstm")
    3
    >>> check_pretrain_level("auto", 11, "cnn-lstm"), check_pretrain_level("auto", 11, "lightgbm")
    (2, None)
    """
    pretrain_level = read_pretrain_level(pretrain_level, name)
    if pretrain_level in ("auto", "none"):
        auto = pretrain_level == "auto" and model == "cnn-lstm" and n_models == 1
        return DEFAULT_PRETRAIN_LEVELS.get(level) if auto else None
    if pretrain_level is None:
        return None
    if model != "cnn-lstm" or n_models > 1:
        raise ParamError(f"{name} works with one CNN-LSTM per group ({hint}); got model {model!r}, "
                         f"{n_models} model(s) per group")
    fits = [p for p in range(1, 13) if p != level and contains(p, level)]
    choose = f"choose one of {', '.join(map(str, fits))}" if fits else f"level {level} has none: use 'none'"
    if pretrain_level == level:  # its groups are the run's own: the fine-tune would refit each group's model
        raise ParamError(f"{name} {pretrain_level} is the run's own level, not a coarser one: {choose}")
    if not contains(pretrain_level, level):
        raise ParamError(f"{name} {pretrain_level} does not contain level {level}'s groups ({LEVEL_NAMES[level]} is "
                         f"not inside {LEVEL_NAMES[pretrain_level]}): {choose}")
    return pretrain_level


def make_pipeline(
    level: int = 11,
    calendar: pd.DataFrame | None = None,
    prices: pd.DataFrame | None = None,
    *,
    model: str = "cnn-lstm",
    strategy: str | None = None,
    seeds: int = 1,
    n_workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    epochs: int = 10,
    window: int = 28,
    max_windows: int | None = DEFAULT_MAX_WINDOWS,
    store: str | Path | None = None,
    random_state: int | None = 0,
    progress: bool = False,
    horizon: int = HORIZON,
    estimator=None,
    windower=None,
    pretrain_level: int | str | None = "auto",
    finetune_params: dict | None = None,
    **grouped_params,
) -> Pipeline:
    """Build CalendarMerger -> PriceJoiner -> LevelAggregator -> GroupedEstimator.

    Parameters
    ----------
    level : int, default=11
        M5 level (1-12) whose groups each get one model.
    calendar, prices : DataFrame
        The M5 calendar and sell prices (``data.calendar``, ``data.prices``).
    model : {"cnn-lstm", "lightgbm", "xgboost"}, default="cnn-lstm"
        The forecaster of each group: :class:`~m5kit.models.CNNLSTMRegressor`
        on :class:`~m5kit.transformers.Windower` windows, or a gradient-boosted
        model (:func:`~m5kit.models.gbm.make_lightgbm`,
        :func:`~m5kit.models.gbm.make_xgboost`; extras ``m5kit[lightgbm]``,
        ``m5kit[xgboost]``) on :class:`~m5kit.forecasting.features.LagFeatures`
        (whose calendar features include the days to and since each type of
        event: ``CalendarMerger(event_distance=True)``).
    strategy : {"recursive", "direct", "blend", "weekly"}, optional
        How the ``horizon`` days are forecast. ``"recursive"``: one day at a
        time, each day's forecast fed back as the next day's input;
        ``"direct"``: all days at once from the history (the CNN-LSTM gets
        ``horizon`` outputs; a gradient-boosted model, sales features lagged
        ``>= horizon`` days). By default direct, the steadier way on the real
        store CA_1 for every family (benchmarks/RESULTS.md): the CNN-LSTM's
        recursive forecast drifts (a 10% bias compounds over 28 steps),
        XGBoost's fell to 0.8 of the actual by day 28, and LightGBM's won on
        M5's holdout window but scored 0.73-0.78 on the two windows before it,
        where direct scored 0.43-0.59 (see :func:`resolve_strategy`). A direct CNN-LSTM needs
        ``window + horizon`` days in a row in some series of a group; a
        shorter group (a new item) is trained the recursive way, which needs
        ``window + 1`` (``Windower(fallback_horizon=1)``). ``"blend"``: one model of each
        way per group, their forecasts averaged (:mod:`m5kit.forecasting.blend`).
        ``"weekly"`` (LightGBM and XGBoost): one direct model per week of the
        forecast (:func:`weekly_horizons`), each reading the sales up to the day
        before its week, stitched (:class:`~m5kit.forecasting.blend.StitchWindower`):
        four fits per group for a forecast whose first weeks see recent sales.
    seeds : int, default=1
        Models per group (per way, with ``"blend"``), each with its own seed
        (group seed + k; for the CNN-LSTM also its own sample of windows),
        their forecasts averaged. The CNN-LSTM's forecast level moves with
        its seed: averaging a few steadies it at the cost of as many fits.
    n_workers : int, optional
        Fit on a local Dask cluster of this many single-thread workers.
    scheduler : str, optional
        Or on an existing Dask cluster at this address.
    client : distributed.Client, optional
        Or through a client you manage. None of the three: in-process.
    epochs : int, default=10
        CNN-LSTM only: maximum epochs per group. The default CNN-LSTM keeps no
        hold-out (``validation_split=0``: it trains on the days closest to the
        forecast), so early stopping watches the training loss.
    window : int, default=28
        CNN-LSTM only: days of history in each input window.
    max_windows : int or None, default=100000
        CNN-LSTM only: cap on the training windows of one group.
    store : str or Path, optional
        Model store folder (resumable).
    random_state : int or None, default=0
        Base seed of the per-group seeds.
    progress : bool, default=False
        Progress bar over groups on stderr.
    horizon : int, default=28
        Days to forecast.
    estimator, windower : optional
        Replace the model's default estimator / windower (their parameters
        stay reachable as ``groupedestimator__estimator__...``). A windower
        of your own makes one model per group: not with ``seeds`` > 1,
        ``"blend"`` or ``"weekly"``. ``epochs`` with your own estimator, and
        ``window`` or ``max_windows`` with your own windower, are refused
        (ParamError) unless left at their defaults: set them on yours.
    pretrain_level : int, "auto" or None, default="auto"
        CNN-LSTM only (one model per group, ``seeds=1``): pretrain one
        model per group of this coarser level on all its series, then
        fine-tune a copy per group of ``level`` (see
        :class:`~m5kit.grouped.GroupedEstimator`). ``"auto"``: the store
        (3) for level 12 and the state (2) for level 11
        (:data:`DEFAULT_PRETRAIN_LEVELS`), no pretraining at other levels,
        with seeds, a blend, a gradient-boosted model or an ``estimator``
        that cannot start from another's weights. None: every group
        starts from fresh weights. Level 10 (an item in every store) can
        be pretrained at ``1``, ``4`` or ``5``; at ``1`` it gained 0.003
        on the built-in data, so it is not automatic.
    finetune_params : dict, optional
        The fine-tune's estimator parameters; default
        :data:`FINETUNE_PARAMS` (5 epochs at a learning rate of 0.002).
    **grouped_params
        More GroupedEstimator parameters (``retries``, ``on_short``, ``log_dir`` ...).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``calendarmerger``, ``pricejoiner``, ``levelaggregator``,
        ``groupedestimator``.

    Examples
    --------
    >>> from m5kit import make_m5, make_pipeline
    >>> data = make_m5(n_items=2, n_stores=2, n_days=120)
    >>> pipe = make_pipeline(3, data.calendar, data.prices, epochs=1, window=14)
    >>> [name for name, _ in pipe.steps]
    ['calendarmerger', 'pricejoiner', 'levelaggregator', 'groupedestimator']
    >>> gbm = make_pipeline(9, data.calendar, data.prices, model="lightgbm")   # doctest: +SKIP
    """
    from m5kit.grouped import GroupedEstimator
    from m5kit.transformers import CalendarMerger, LevelAggregator, PriceJoiner

    level = check_level(level)
    model = _checks.choice(model, "model", MODELS)
    strategy = resolve_strategy(model, strategy)
    seeds = _checks.whole(seeds, "seeds")
    horizon = _checks.whole(horizon, "horizon")  # now, not at fit: the calendar step alone allows 0
    members = _members(strategy, seeds, horizon)
    if windower is not None and (len(members) > 1 or strategy == "weekly"):  # they were dropped: one model per group
        asked = f"strategy {strategy!r}" if strategy in ("blend", "weekly") else f"seeds={seeds}"
        raise ParamError(f"{asked} fits several models per group, each with its own windower: leave windower=None, "
                         "or pass windower=BlendWindower([...]) (StitchWindower for weekly) with "
                         "estimator=BlendRegressor([...]) and seeds=1")
    _refuse_unused(estimator, windower, epochs=epochs, window=window, max_windows=max_windows)
    if estimator is None:
        estimator = _default_estimator(model, epochs, random_state)
    if windower is None:
        windower = _default_windower(model, members[0][0], window, horizon, max_windows, random_state)
        if len(members) > 1 or strategy == "weekly":
            from m5kit.forecasting.blend import BlendRegressor, BlendWindower, StitchWindower

            base = 0 if random_state is None else int(random_state)
            kind = StitchWindower if strategy == "weekly" else BlendWindower
            windower = kind([_default_windower(model, way, window, h, max_windows, base + k)
                             for way, h, k in members])
            estimator = BlendRegressor([estimator] * len(members), random_state=random_state)
    pretrain_level = read_pretrain_level(pretrain_level)
    if pretrain_level == "auto" and not callable(getattr(estimator, "init_params_from", None)):
        pretrain_level = None  # an estimator that cannot start from another's weights
    pretrain_level = check_pretrain_level(pretrain_level, level, model, len(members))
    if pretrain_level is not None and finetune_params is None:
        finetune_params = dict(FINETUNE_PARAMS)
    grouped = GroupedEstimator(
        estimator,
        windower,
        pretrain_level=pretrain_level,
        finetune_params=finetune_params,
        n_workers=n_workers,
        scheduler=scheduler,
        client=client,
        store=store,
        random_state=random_state,
        progress=progress,
        horizon=horizon,
        **grouped_params,
    )
    return Pipeline(
        [
            # the days around holidays: read by the gradient-boosted models' features only
            ("calendarmerger", CalendarMerger(calendar, horizon=horizon, event_distance=model != "cnn-lstm")),
            ("pricejoiner", PriceJoiner(prices)),
            ("levelaggregator", LevelAggregator(level)),
            ("groupedestimator", grouped),
        ]
    )


def check_pipeline(pipe: Pipeline, X: pd.DataFrame | None = None) -> None:
    """Check the parameters of a :func:`make_pipeline` pipeline now, as each group's fit would check them.

    So that a bad value fails once, before any group is fitted, rather than in
    every group's fit. Checked: the grouped estimator's and the windower's own
    checks, the estimator's scikit-learn parameter constraints (when it
    declares them) and its own checks, then the estimator on a small table:
    a Keras network is built
    (its builder's arguments checked) but not trained; a LightGBM or XGBoost
    booster is fitted and stopped after its first round (the library checks
    every parameter when training starts). The table's features are those
    the pipeline makes of the first group of ``X`` (its first 64 training
    rows, with made-up targets), so that parameters naming features meet the
    real ones; without ``X``, or when that group has no training row, they
    are made up. Values refused only by some groups' data still fail in
    those groups' fits.

    Parameters
    ----------
    pipe : Pipeline
        A pipeline of :func:`make_pipeline`, its parameters set.
    X : DataFrame, optional
        A few series of the wide sales table the pipeline will be fitted on
        (one is enough: only the first group is used).

    Raises
    ------
    Exception
        What the failing check raises: a :class:`~m5kit.errors.ParamError` (or
        ``DataError``) of m5kit's own checks, or the library's own error.

    Examples
    --------
    >>> from m5kit import make_m5
    >>> data = make_m5(n_items=2, n_stores=2, n_days=120)
    >>> pipe = make_pipeline(3, data.calendar, data.prices, model="lightgbm")    # doctest: +SKIP
    >>> check_pipeline(pipe.set_params(groupedestimator__estimator__num_leaves=1))  # doctest: +SKIP
    Traceback (most recent call last):
    lightgbm.basic.LightGBMError: Check failed: (num_leaves) > (1) ...
    """
    from m5kit.forecasting.blend import BlendRegressor

    grouped = pipe[-1]
    grouped._check_params()
    windower, estimator = grouped.windower, grouped.estimator
    check = getattr(windower, "_check_params", None)
    if callable(check):
        check()
    if isinstance(estimator, BlendRegressor):
        members = list(estimator.estimators)
        windowers = list(getattr(windower, "windowers", None) or [windower] * len(members))
    else:
        members, windowers = [estimator], [windower]
    tables = _sample_tables(pipe, X, windowers) if X is not None else [None] * len(windowers)
    for member, member_windower, table in zip(members, windowers, tables):
        _dry_fit(member, member_windower, table)


def _sample_tables(pipe: Pipeline, X: pd.DataFrame, windowers: list) -> list:
    """Each windower's first 64 training rows of the first group of ``X`` (None where it has none)."""
    from sklearn.base import clone

    from m5kit.errors import GroupError

    features = pipe[:-1].fit_transform(X)
    frame = next(iter(pipe[-1]._split(features).values()))
    tables = []
    for windower in windowers:
        try:
            table, _ = clone(windower, safe=False).fit(frame).make_training_data(frame)
        except GroupError:  # too short for a training row: the made-up table will do
            tables.append(None)
        else:
            tables.append(table[:64])
    return tables


@contextmanager
def _native_stderr_silenced():
    """Send what compiled code writes to the process' stderr (file descriptor 2) to the null device for a moment.

    LightGBM's C++ core writes "[LightGBM] [Fatal] ..." there itself before
    it raises, past any Python-level redirection.
    """
    import os
    import sys

    for stream in (sys.stdout, sys.stderr, sys.__stderr__):
        try:
            stream.flush()  # what Python holds for stderr is written now, not lost
        except (AttributeError, OSError, ValueError):
            pass
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to silence
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _dry_fit(estimator, windower, table=None) -> None:
    """Let the estimator check its parameters on ``table`` or a made-up one (see :func:`check_pipeline`)."""
    import contextlib
    import io
    import warnings

    import numpy as np
    from sklearn.base import clone

    estimator = clone(estimator)
    if hasattr(estimator, "_parameter_constraints"):
        estimator._validate_params()
    check = getattr(estimator, "_check_params", None)
    if callable(check):
        check()
    rng = np.random.default_rng(0)
    horizon = int(getattr(windower, "horizon", 1) or 1)
    library = type(estimator).__module__.split(".")[0]
    # the libraries' own log lines and warnings stay quiet: the error raised says what went wrong
    with contextlib.redirect_stdout(io.StringIO()), _native_stderr_silenced(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if callable(getattr(estimator, "initialize", None)):  # a scikeras wrapper: build the network, do not train it
            window = int(getattr(windower, "window", 28))
            X = rng.random((8, window, 3), dtype=np.float32) if table is None else np.asarray(table[:8])
            estimator.initialize(X, rng.random((len(X), horizon), dtype=np.float32))
        elif library in ("lightgbm", "xgboost"):
            X = pd.DataFrame(rng.random((64, 3)), columns=["f0", "f1", "f2"]) if table is None else table
            y = rng.poisson(2.0, size=len(X)).astype(float)  # sales that a log-link objective can fit
            if library == "lightgbm":
                import lightgbm

                def first_round(env):
                    raise lightgbm.callback.EarlyStopException(env.iteration, [])

                estimator.fit(X, y, callbacks=[first_round])
            else:
                import xgboost

                class FirstRound(xgboost.callback.TrainingCallback):
                    def after_iteration(self, model, epoch, evals_log) -> bool:
                        return True  # stop

                estimator.set_params(callbacks=[FirstRound()]).fit(X, y)
