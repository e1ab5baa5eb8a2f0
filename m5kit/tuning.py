"""Bayesian hyperparameter search with trials on a Dask cluster.

The study is held by the client: Optuna's TPE sampler asks for a trial's
parameters, the trial is sent to the cluster as one task, and its score is
told back when the task finishes, with ``n_parallel`` trials in flight at a
time (ask and tell). The study lives in a journal file in the run folder, so
an interrupted search, run again, resumes where it stopped: finished trials
are kept and never repeated, and a trial that was running when the search
stopped is asked again with the same parameters.

Hopeless trials are pruned (Optuna's MedianPruner by default) when the
objective reports per-epoch scores: an objective that accepts a ``trial``
keyword gets a :class:`~m5kit.tuning_pruning.TrialReporter` and reports
through it, or hands ``trial.keras_callback()`` to a Keras estimator (see
:mod:`m5kit.tuning_pruning` for how a trial on a Dask worker and the study in
the client talk). A pruned trial is stopped and recorded as PRUNED.

The search space is declared with :class:`Int`, :class:`Float` (optionally on
a log scale) and :class:`Choice`. The objective is a module-level function
``objective(data, params) -> float`` (it is sent to workers); ``data`` is sent
to the cluster once and shared by every trial. Ready-made objectives:
:func:`m5kit.tuning_objectives.forecast_backtest` (the WRMSSE of a backtest on
the last 28 days of the history, never the holdout) and
:func:`m5kit.tuning_objectives.cross_validation` (any scikit-learn scorer).

Optuna is an extra: ``pip install "m5kit[tune]"``.

Examples
--------
>>> from m5kit.tuning import Float, Int, tune
>>> def objective(data, params):
...     return (params["x"] - 2.0) ** 2 + params["n"]
>>> result = tune(objective, None, {"x": Float(-5, 5), "n": Int(0, 3)}, n_trials=20)   # doctest: +SKIP
>>> round(result.best_value, 1)                                                       # doctest: +SKIP
0.0
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import math
import queue
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from m5kit import _checks
from m5kit.errors import ClusterError, M5kitError, ParamError, StoreError

if TYPE_CHECKING:
    import pandas as pd  # imported where used: the command line's --help reads this module's spaces

__all__ = ["Int", "Float", "Choice", "TuneError", "TuneResult", "check_space", "tune", "write_analysis"]

logger = logging.getLogger(__name__)

STUDY_FILE = "study.journal"
_STUDY_NAME = "m5kit"


class TuneError(M5kitError, RuntimeError):
    """The search cannot go on: every trial so far failed (the first errors are in the message)."""


@dataclass(frozen=True)
class Int:
    """A whole-number parameter in ``[low, high]`` (``log``: sampled on a log scale).

    Parameters
    ----------
    low : int
        The smallest value searched.
    high : int
        The largest value searched (``low <= high``).
    log : bool, default=False
        Sample on a log scale (then ``low > 0``). The bounds are checked when
        the search starts (:meth:`distribution`).

    Examples
    --------
    >>> Int(8, 64, log=True)
    Int(low=8, high=64, log=True)
    """

    low: int
    high: int
    log: bool = False

    def distribution(self, name: str):
        """The checked range as an Optuna ``IntDistribution``.

        Parameters
        ----------
        name : str
            The parameter's name, for error messages.

        Returns
        -------
        optuna.distributions.IntDistribution

        Raises
        ------
        ParamError
            ``low`` or ``high`` is not a whole number, ``low > high``, or
            ``log`` with ``low <= 0``, or ``log`` neither False nor True.
        """
        low, high = _checks.whole(self.low, f"{name} low", minimum=-(2**62)), _checks.whole(self.high, f"{name} high", minimum=-(2**62))
        log = _check_range(name, low, high, self.log)
        from optuna.distributions import IntDistribution

        return IntDistribution(low, high, log=log)


@dataclass(frozen=True)
class Float:
    """A real parameter in ``[low, high]`` (``log``: sampled on a log scale, e.g. learning rates).

    Parameters
    ----------
    low : float
        The smallest value searched (finite).
    high : float
        The largest value searched (finite, ``low <= high``).
    log : bool, default=False
        Sample on a log scale (then ``low > 0``). The bounds are checked when
        the search starts (:meth:`distribution`).

    Examples
    --------
    >>> Float(1e-4, 1e-1, log=True)
    Float(low=0.0001, high=0.1, log=True)
    """

    low: float
    high: float
    log: bool = False

    def distribution(self, name: str):
        """The checked range as an Optuna ``FloatDistribution``.

        Parameters
        ----------
        name : str
            The parameter's name, for error messages.

        Returns
        -------
        optuna.distributions.FloatDistribution

        Raises
        ------
        ParamError
            ``low`` or ``high`` is not a number, ``low > high``, or ``log``
            with ``low <= 0``, or ``log`` neither False nor True.
        """
        low = _checks.number(self.low, f"{name} low", low=-math.inf, hint="a finite number")
        high = _checks.number(self.high, f"{name} high", low=-math.inf, hint="a finite number")
        log = _check_range(name, low, high, self.log)
        from optuna.distributions import FloatDistribution

        return FloatDistribution(low, high, log=log)


@dataclass(frozen=True)
class Choice:
    """One of a few values (numbers, text, tuples, ...).

    Parameters
    ----------
    *options : object
        The values, each given once (no NaN); a trial gets one of them as
        given. Checked when the search starts (:meth:`distribution`).

    Attributes
    ----------
    options : tuple
        The values, in the order given.

    Examples
    --------
    >>> Choice((16,), (32,), (32, 16)).options
    ((16,), (32,), (32, 16))
    """

    options: tuple = field(default=())

    def __init__(self, *options: Any):
        object.__setattr__(self, "options", tuple(options))

    def distribution(self, name: str):
        """The options as an Optuna ``CategoricalDistribution``.

        Options other than None, bool, int, float and str (tuples, ...) are
        given to Optuna by their index: :meth:`value` turns a sampled index
        back into its option.

        Parameters
        ----------
        name : str
            The parameter's name, for error messages.

        Returns
        -------
        optuna.distributions.CategoricalDistribution

        Raises
        ------
        ParamError
            No options, an option given twice, or NaN.
        """
        if not self.options:
            raise ParamError(f"the search space of {name!r} is empty: give Choice at least one value")
        if any(isinstance(o, float) and math.isnan(o) for o in self.options):
            raise ParamError(f"the search space of {name!r} holds NaN: give Choice values that can be compared")
        seen = []
        for option in self.options:
            if any(type(option) is type(other) and option == other for other in seen):
                raise ParamError(f"the search space of {name!r} gives {option!r} twice: give each Choice value once")
            seen.append(option)
        from optuna.distributions import CategoricalDistribution

        # Optuna stores choices as JSON-able scalars: non-scalar options are chosen by their index.
        return CategoricalDistribution(list(range(len(self.options))) if self._indexed else list(self.options))

    @property
    def _indexed(self) -> bool:
        return not all(o is None or isinstance(o, (bool, int, float, str)) for o in self.options)

    def value(self, raw):
        """The option that a value sampled from :meth:`distribution` stands for.

        Parameters
        ----------
        raw : object
            The sampled value: an option, or its index when the options are
            not all plain scalars.

        Returns
        -------
        object
            The option as declared.
        """
        return self.options[raw] if self._indexed else raw


def _check_range(name: str, low, high, log: bool) -> bool:
    """Refuse an empty range or a log scale from 0 or below; return ``log`` as a bool."""
    log = bool(_checks.choice(log, f"{name} log", (False, True)))  # the text 'no' was read as true: a log scale
    if low > high:
        raise ParamError(f"the search range of {name!r} is empty ({low} > {high}): give low <= high")
    if log and low <= 0:
        raise ParamError(f"the log-scale range of {name!r} starts at {low}: a log scale needs low > 0")
    return log


def check_space(space: Mapping[str, Any], known: Any = None) -> dict[str, Any]:
    """Check a search space before any trial runs.

    Parameters
    ----------
    space : mapping
        Parameter name -> :class:`Int`, :class:`Float` or :class:`Choice`.
    known : collection of str, optional
        The parameter names the objective accepts (e.g. an estimator's
        ``get_params()``); an unknown name is an error naming the close ones.

    Returns
    -------
    dict
        Name -> Optuna distribution.

    Raises
    ------
    ParamError
        An unknown parameter name, an empty range, or a value that is not a
        declared dimension.

    Examples
    --------
    >>> sorted(check_space({"lr": Float(1e-4, 1e-2, log=True)}, known={"lr", "epochs"}))
    ['lr']
    """
    if not isinstance(space, Mapping):
        raise ParamError(f"the search space is a {type(space).__name__}: give a dict of parameter name -> Int, Float "
                         "or Choice")
    if not space:
        raise ParamError("the search space is empty: give at least one parameter to tune")
    out = {}
    for name, dim in space.items():
        if known is not None and name not in known:
            import difflib

            close = difflib.get_close_matches(name, list(known), n=3)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise ParamError(f"unknown parameter {name!r} in the search space{hint}: tune parameters the model has")
        if not isinstance(dim, (Int, Float, Choice)):
            raise ParamError(f"the search space of {name!r} is {dim!r}: declare it with Int, Float or Choice")
        out[name] = dim.distribution(name)
    return out


@dataclass
class TuneResult:
    """What a search found.

    Attributes
    ----------
    best_params : dict
        The best trial's parameters (Choice values as declared).
    best_value : float
        Its objective.
    trials : DataFrame
        One row per trial, best first: ``number``, one column per parameter,
        ``value``, ``seconds``, ``state`` (COMPLETE, PRUNED, FAIL),
        ``steps`` (how many per-epoch scores the trial reported; only when
        some trial reported any), ``error``.
    direction : str
        ``"minimize"`` or ``"maximize"``.
    """

    best_params: dict
    best_value: float
    trials: pd.DataFrame
    direction: str


def startup_trials(n_trials: int) -> int:
    """Random trials before TPE starts to model the search: a third of the budget, from 5 to Optuna's 10.

    Optuna's default of 10 leaves a budget of 10-20 trials (what an expensive model gets) mostly
    or wholly random.

    Examples
    --------
    >>> [startup_trials(n) for n in (8, 20, 25, 100)]
    [5, 6, 8, 10]
    """
    return max(5, min(10, n_trials // 3))


def _open_study(path: Path | None, direction: str, seed: int | None, sampler: str, pruner: Any = None,
                n_trials: int = 30):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def make(seed):
        return optuna.samplers.RandomSampler(seed=seed) if sampler == "random" else optuna.samplers.TPESampler(
            seed=seed, constant_liar=True, multivariate=True, n_startup_trials=startup_trials(n_trials))

    chosen = make(seed)
    storage = None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _mend_journal(path)
    try:
        if path is not None:  # reading the journal: its records are replayed here
            from optuna.storages import JournalStorage
            from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

            storage = JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
        study = optuna.create_study(storage=storage, sampler=chosen, pruner=pruner or optuna.pruners.NopPruner(),
                                    study_name=_STUDY_NAME, direction=direction, load_if_exists=True)
    except ValueError:  # json's JSONDecodeError of a damaged record, and optuna's own ValueErrors
        damaged = None if path is None else _damaged_line(path)
        if damaged is None:
            raise
        raise StoreError(f"the study journal {path} is damaged (line {damaged} is not a record): choose another --out, "
                         "or remove the file to start the search again") from None
    if study.direction.name.lower() != direction:
        raise ParamError(f"the study in {path} was a search to {study.direction.name.lower()}, not to {direction}: "
                         "choose another output folder")
    resumed = len(study.get_trials(deepcopy=False))
    if resumed and seed is not None:
        # a sampler seeded as the search's first one asks the parameters of its first trials again: the resumed
        # search's comes from the seed and the trials already in the study (as reproducible, and new parameters)
        import numpy as np

        study.sampler = make(int(np.random.SeedSequence([int(seed), resumed]).generate_state(1)[0]))
    return study


def _mend_journal(path: Path) -> None:
    """Drop the last line of a study journal when it was cut short (a full disk or a kill as Optuna appended it).

    That record was never finished (a trial it would have ended is asked again, as one a killed search left
    running); Optuna would append the next record to it, and every later read of the journal would fail.
    """
    from optuna.storages.journal import JournalFileOpenLock

    if not path.exists():
        return
    lock = JournalFileOpenLock(str(path))  # Optuna's own, which each append holds: another search's record in the
    lock.acquire()                         # making (a second process on the same journal) is not cut short
    try:
        data = path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end == len(data):
            return
        logger.warning("the study journal %s ended in a record cut short (a full disk or a kill): it is dropped", path)
        with open(path, "rb+") as fh:
            fh.truncate(end)
    finally:
        lock.release()


def _damaged_line(path: Path) -> int | None:
    """The number of the first line of a study journal that is not a JSON record, if any."""
    import json

    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        try:
            json.loads(line)
        except ValueError:
            return number
    return None


def _objective_name(objective) -> str:
    """``module.qualname`` of the objective (what a study records of it)."""
    name = getattr(objective, "__qualname__", None) or type(objective).__qualname__
    return f"{getattr(objective, '__module__', None) or type(objective).__module__}.{name}"


def _check_same_search(study, distributions: dict, objective, path) -> None:
    """Record the space and the objective in a new study; a study of another one is refused (its trials would mix in)."""
    mine = {name: repr(dist) for name, dist in distributions.items()}
    theirs = study.user_attrs.get("space")
    if theirs is None:
        if not study.trials:  # a new study (an older m5kit's, with trials, resumes as it did)
            study.set_user_attr("space", mine)
            study.set_user_attr("objective", _objective_name(objective))
        return
    if theirs != mine:
        raise ParamError(f"the study in {path} searched another space ({', '.join(theirs)}): give the same space to "
                         "resume it, or another output folder")
    recorded = study.user_attrs.get("objective")  # none in a study of an m5kit before it was kept
    if recorded is not None and recorded != _objective_name(objective):
        raise ParamError(f"the study in {path} scored another objective ({recorded}): give the same objective to "
                         "resume it, or another output folder")


#: The error of a trial an interrupted search left running, in the trials table.
_INTERRUPTED = "interrupted: the search was stopped while this trial ran; its parameters were asked again on resume"


def _interrupted(study) -> list[dict]:
    """Trials left RUNNING by an interrupted search: marked failed (with no error: not counted among the trials
    run), their parameters asked again."""
    from optuna.trial import TrialState

    again = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)
        again.append(dict(trial.params))
    return again


def tune(
    objective: Callable[[Any, dict], float],
    data: Any,
    space: Mapping[str, Any],
    *,
    n_trials: int = 20,
    n_parallel: int = 1,
    direction: str = "minimize",
    out: str | Path | None = None,
    known: Any = None,
    sampler: str = "tpe",
    pruner: Any = "median",
    seed: int | None = 0,
    client: Any = None,
    n_workers: int | None = None,
    scheduler: str | None = None,
    max_failures: int | None = None,
    progress: bool = False,
) -> TuneResult:
    """Search ``space`` for the parameters that optimise ``objective(data, params)``.

    Parameters
    ----------
    objective : callable
        Module-level ``objective(data, params) -> float`` (sent to workers).
        With a ``trial`` keyword it also gets a
        :class:`~m5kit.tuning_pruning.TrialReporter` (None when pruning is
        off) to report per-epoch scores through.
    data : object
        The objective's data, sent to the cluster once.
    space : mapping
        Parameter name -> :class:`Int` / :class:`Float` / :class:`Choice`.
    n_trials : int, default=20
        Trials in all, the finished trials of an earlier run included.
    n_parallel : int, default=1
        Trials in flight at a time (with a cluster: up to its workers).
    direction : {"minimize", "maximize"}
    out : str or Path, optional
        Run folder: the study's journal file is kept there (resumable: a
        study of another space or another objective is refused), and :func:`write_analysis`
        writes the trials CSV and plots there.
    known : collection of str, optional
        Accepted parameter names (checked before any trial runs).
    sampler : {"tpe", "random"}
        Optuna's TPE (Bayesian; multivariate, with a constant liar for the
        trials in flight; the first :func:`startup_trials` trials random), or
        random search (a baseline).
    pruner : {"median", "none"}, None or optuna.pruners.BasePruner, default="median"
        Stop hopeless trials of an objective that reports per-epoch scores:
        ``"median"`` prunes a trial whose best score so far is worse than the
        median of the finished trials at the same epoch (from the third
        epoch, once 5 trials finished); ``"none"``/None switches pruning off.
    seed : int, optional
        Seed of the sampler.
    client, n_workers, scheduler
        Where trials run (as for :class:`m5kit.GroupedEstimator`); none of
        them: one after the other in this process.
    max_failures : int, optional
        Stop with :class:`TuneError` when this many trials failed and none
        succeeded (default: ``max(3, n_parallel)``).
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    TuneResult
    """
    n_trials = _checks.whole(n_trials, "number of trials")
    n_parallel = _checks.whole(n_parallel, "number of parallel trials")
    direction = _checks.choice(direction, "direction", ("minimize", "maximize"))
    sampler = _checks.choice(sampler, "sampler", ("tpe", "random"))
    max_failures = max(3, n_parallel) if max_failures is None else _checks.whole(max_failures, "max_failures")
    seed = None if seed is None else _checks.whole(seed, "seed", minimum=0)
    _checks.choice(progress, "progress", (False, True))  # the text 'False' showed the bar (as GroupedEstimator)
    if client is None and not scheduler:  # as open_client checks it, but before the study records the space
        _checks.optional_whole(n_workers, "number of workers")
    distributions = check_space(space, known)
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ParamError('hyperparameter search needs Optuna: pip install "m5kit[tune]"') from None
    from m5kit.tuning_pruning import make_pruner

    chosen_pruner = make_pruner(pruner)
    from m5kit.store import new_folders, undo_claim

    made = new_folders(out)
    check_out(out)
    path = None if out is None else Path(out) / STUDY_FILE
    new = path is None or not path.exists()
    study = _open_study(path, direction, seed, sampler, chosen_pruner, n_trials)
    _check_same_search(study, distributions, objective, path)
    for params in _interrupted(study):
        study.enqueue_trial(params, skip_if_exists=False)
    done = _count_done(study)
    if done:
        logger.info("resuming the search in %s: %d trial(s) already finished", path, done)
    takes_trial = _takes_trial(objective)
    search = _Search(study, distributions, space, objective, n_trials, max_failures, takes_trial=takes_trial,
                     prunes=chosen_pruner is not None and takes_trial)
    from m5kit.execution.cluster import open_client
    from m5kit.execution.progress import progress_bar

    # the bar advances on every trial told (failed and pruned ones too): it starts from those of the budget already run
    with progress_bar(progress, n_trials, min(n_trials, n_trials - search.remaining()), "tuning") as advance:
        search.on_told = advance
        if client is None and scheduler is None and n_workers is None:
            search.run_here(data)
        else:
            with contextlib.ExitStack() as stack:
                try:
                    cl = stack.enter_context(open_client(n_workers, scheduler, client))
                except ClusterError:  # no trial ran: leave no study (recording the space) nor its folders behind
                    undo_claim(path if new else None, made)
                    raise
                search.run_on(cl, data, n_parallel)
    return _result(study, space, direction)


def check_out(out) -> None:
    """Create the search folder ``out`` (None: nothing to do), or raise StoreError saying why it cannot be one."""
    if out is None:
        return
    if Path(out).exists() and not Path(out).is_dir():
        raise StoreError(f"output {out} is a file: give a folder for the search")
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a parent that is a file, no permission
        raise StoreError(f"cannot create the search folder {out} ({exc.strerror or type(exc).__name__}): "
                         "give a writable folder") from None


def _finished_trials(out: str | Path) -> int | None:
    """Trials the study in the search folder ``out`` finished (0 without a study); None when it cannot be read."""
    path = Path(out) / STUDY_FILE
    if not path.exists():
        return 0
    try:
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
        return _count_done(optuna.load_study(study_name=_STUDY_NAME, storage=storage))
    except Exception:  # no Optuna, a journal cut short or of another study: not known to be empty
        return None


def _takes_trial(objective) -> bool:
    """Whether the objective accepts a ``trial`` keyword (its per-epoch reports)."""
    try:
        parameters = inspect.signature(objective).parameters
    except (TypeError, ValueError):
        return False
    return "trial" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _count_done(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


class _Search:
    """The ask-and-tell loop of one search."""

    def __init__(self, study, distributions, space, objective, n_trials, max_failures, *, takes_trial: bool = False,
                 prunes: bool = False):
        self.study, self.distributions, self.space = study, distributions, space
        self.objective, self.n_trials, self.max_failures = objective, n_trials, max_failures
        self.takes_trial, self.prunes = takes_trial, prunes
        self.pruning = None  # the client's side of pruning while a search runs
        self.on_told: Callable[[], None] = lambda: None
        self.errors: list[tuple[int, str]] = []

    def remaining(self) -> int:
        from optuna.trial import TrialState

        # a trial an interrupted search left running (failed with no error of its own, see _interrupted) is
        # asked again: it is no trial of the budget
        return self.n_trials - sum(t.state != TrialState.FAIL or "error" in t.user_attrs for t in self.study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)))

    def ask(self):
        trial = self.study.ask(self.distributions)
        params = {name: self._value(name, raw) for name, raw in trial.params.items()}
        return trial, params

    def _value(self, name, raw):
        dim = self.space[name]
        return dim.value(raw) if isinstance(dim, Choice) else raw

    def work(self, trial):
        """The trial's objective, with its ``trial`` keyword bound (a reporter when the search prunes, else None)."""
        if not self.takes_trial:
            return self.objective
        return functools.partial(self.objective, trial=None if self.pruning is None else self.pruning.reporter(trial))

    def tell(self, trial, value, seconds: float, error: str | None, pruned: bool = False) -> None:
        from optuna.trial import TrialState

        trial.set_user_attr("seconds", float(seconds))
        if pruned:
            self.study.tell(trial, state=TrialState.PRUNED)
            logger.info("trial %d pruned", trial.number)
        elif error is None and value is not None and np.isfinite(value):
            self.study.tell(trial, float(value))
        else:
            error = error or f"the objective returned {value!r}, not a finite number"
            trial.set_user_attr("error", error)
            self.study.tell(trial, state=TrialState.FAIL)
            self.errors.append((trial.number, error))
            logger.warning("trial %d failed: %s", trial.number, error)
        self.on_told()
        if not _count_done(self.study) and len(self.errors) >= self.max_failures:
            raise TuneError(f"the first {len(self.errors)} trials all failed, so the search stopped: "
                            + _said_once(self.errors) + ". Fix the cause (see the errors) and run again")

    def run_here(self, data) -> None:
        from m5kit.execution.cluster import timed
        from m5kit.tuning_pruning import Pruning

        with Pruning(None, self.study.direction.name.lower()) if self.prunes else contextlib.nullcontext() as pruning:
            self.pruning = pruning
            while self.remaining() > 0:
                trial, params = self.ask()
                value, seconds = timed(self.work(trial), data, params)
                self._settle(trial, value, seconds)

    def run_on(self, client, data, n_parallel: int) -> None:
        """Trials as Dask tasks, ``n_parallel`` in flight.

        One queue feeds the loop: finished tasks (their done-callbacks) and,
        when the search prunes, the trials' per-epoch reports (the Dask
        events of the search's topic), so the study is only ever touched
        from this thread.
        """
        from m5kit.execution.cluster import task_key, timed
        from m5kit.tuning_pruning import Pruning, topic

        inbox: queue.Queue = queue.Queue()
        shared = client.scatter(data, broadcast=False, hash=False)
        running: dict[Any, Any] = {}

        def launch():
            trial, params = self.ask()
            future = client.submit(timed, self.work(trial), shared, params, key=task_key("trial", str(trial.number)),
                                   pure=False)
            running[future.key] = trial, future
            future.add_done_callback(lambda f: inbox.put(("done", f)))

        with Pruning(client, self.study.direction.name.lower()) if self.prunes else contextlib.nullcontext() as pruning:
            self.pruning = pruning
            if pruning is not None:
                client.subscribe_topic(topic(pruning.token), lambda event: inbox.put(("report", event[1])))
            try:
                for _ in range(min(n_parallel, self.remaining())):
                    launch()
                while running:
                    kind, item = inbox.get()
                    if kind == "report":
                        pruning.receive(**item)
                        continue
                    trial, _ = running.pop(item.key)
                    try:
                        value, seconds = item.result()
                    except Exception as exc:  # the cluster's error (a lost worker), not the trial's own
                        value, seconds = _Failed(f"{type(exc).__name__}: {exc}"), 0.0
                    item.release()
                    self._settle(trial, value, seconds)
                    if self.remaining() - len(running) > 0:
                        launch()
            finally:
                if pruning is not None:
                    client.unsubscribe_topic(topic(pruning.token))
                for _, future in running.values():  # left by an error of the search itself
                    future.cancel()
                # let go of the data now: held by an error's traceback, it outlived the cluster, and the
                # scheduler logged "Removing worker ... caused the cluster to lose scattered data" at the end
                for future in _futures(shared):
                    future.release()

    def _settle(self, trial, value, seconds) -> None:
        from m5kit.tuning_pruning import TrialPruned

        error = getattr(value, "error", None)
        marked = self.pruning is not None and self.pruning.done(trial.number)
        if error is not None and (marked or isinstance(error, TrialPruned)):
            # Stopped by the pruning (a grouped fit wraps it into its own error): PRUNED, not failed.
            self.tell(trial, None, seconds, None, pruned=True)
        elif error is not None:
            text = error if isinstance(error, str) else " ".join(f"{type(error).__name__}: {error}".split())[:300]
            self.tell(trial, None, seconds, text)
        else:
            self.tell(trial, value, seconds, None)


def _futures(scattered) -> list:
    """The futures of what ``client.scatter`` returned (one, or a list or dict of them)."""
    if isinstance(scattered, dict):
        return list(scattered.values())
    return list(scattered) if isinstance(scattered, (list, tuple)) else [scattered]


def _said_once(errors: list[tuple[int, str]], shown: int = 3) -> str:
    """The first ``shown`` distinct errors of failed trials (number, error), each once with the trials it stopped:
    every trial failing alike (a group's error of some 300 characters) is one error, not one copy per trial."""
    trials: dict[str, list[int]] = {}
    for number, error in errors:
        trials.setdefault(error, []).append(int(number))
    said = []
    for error, numbers in list(trials.items())[:shown]:
        if len(numbers) == 1:
            said.append(f"trial {numbers[0]}: {error}")
        else:
            more = f" and {len(numbers) - 3} more" if len(numbers) > 3 else ""
            said.append(f"trials {', '.join(map(str, numbers[:3]))}{more}: {error}")
    return "; ".join(said)


class _Failed:
    def __init__(self, error: str):
        self.error = error


def _result(study, space, direction: str) -> TuneResult:
    import pandas as pd
    from optuna.trial import TrialState

    rows = []
    # trials asked again after an interruption but not run (a lower --trials) are no trials of this search: their
    # missing parameters turned whole-number columns into floats (a best num_leaves=6.0 that train refuses)
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)):
        row = {"number": t.number}
        for name in space:
            raw = t.params.get(name)
            dim = space[name]
            row[name] = dim.value(raw) if isinstance(dim, Choice) and raw is not None else raw
        # A pruned trial has no objective (Optuna would give it its last epoch's score): its
        # ``steps`` say how far it got.
        error = t.user_attrs.get("error")
        if t.state == TrialState.FAIL and error is None:  # see _interrupted (its row's error was empty)
            error = _INTERRUPTED
        row.update(value=t.value if t.state == TrialState.COMPLETE else None, seconds=t.user_attrs.get("seconds"),
                   state=t.state.name, steps=len(t.intermediate_values) or None, error=error)
        rows.append(row)
    trials = pd.DataFrame(rows)
    if "steps" in trials and trials["steps"].isna().all():  # no trial reported per-epoch scores
        trials = trials.drop(columns="steps")
    ok = trials[trials["state"] == "COMPLETE"] if len(trials) else trials
    if ok.empty:
        errors = [(n, e) for n, e in zip(trials["number"], trials["error"])
                  if isinstance(e, str) and e != _INTERRUPTED] if "error" in trials else []
        raise TuneError("no trial of the search finished" + (": " + _said_once(errors) if errors else "")
                        + ". Fix the cause (see the errors) and run again")
    ascending = direction == "minimize"
    trials = pd.concat([ok.sort_values("value", ascending=ascending), trials.drop(ok.index)], ignore_index=True)
    best = trials.iloc[0]
    # Plain Python values (the row holds NumPy scalars): best.json and printed commands show 56, not "56".
    params = {name: best[name].item() if isinstance(best[name], np.generic) else best[name] for name in space}
    return TuneResult(params, float(best["value"]), trials, direction)


def write_analysis(result: TuneResult, out: str | Path) -> dict[str, Path]:
    """Write the trials table (``trials.csv``, best first) and PNG plots of the search into ``out``.

    ``objective.png`` shows each trial's objective and the best so far;
    ``param_<name>.png`` the objective against each parameter.

    Parameters
    ----------
    result : TuneResult
        The search's result.
    out : path
        The folder to write into (created if missing; files replaced).

    Returns
    -------
    dict
        What was written, by kind: ``"trials"``, ``"objective"`` and
        ``"param_<name>"`` to their paths (the trials table only when
        matplotlib is missing).
    """
    from m5kit.store import write_together

    out = Path(out)
    written, writes = _analysis_writes(result, out)
    out.mkdir(parents=True, exist_ok=True)
    write_together(writes, "wb")  # all whole before any is replaced: never new files beside an older analysis's
    return written


def _analysis_writes(result: TuneResult, out: Path) -> tuple[dict[str, Path], dict[Path, Any]]:
    """:func:`write_analysis`'s files, rendered: what it returns, and each path's writer of bytes
    (:func:`~m5kit.store.write_together`'s, mode ``"wb"``)."""
    import pandas as pd

    written = {"trials": out / "trials.csv"}
    trials = result.trials.to_csv(index=False).encode("utf-8")
    writes = {written["trials"]: lambda fh: fh.write(trials)}
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning('no plots of the search: matplotlib is missing (pip install "m5kit[tune]")')
        return written, writes
    ok = result.trials[result.trials["state"] == "COMPLETE"].sort_values("number")
    best = ok["value"].cummin() if result.direction == "minimize" else ok["value"].cummax()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(ok["number"], ok["value"], "o", alpha=0.6, label="trial")
    ax.plot(ok["number"], best, "-", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("objective")
    ax.legend()
    written["objective"] = out / "objective.png"
    writes[written["objective"]] = _png(fig)
    for name in [c for c in result.trials.columns if c not in ("number", "value", "seconds", "state", "steps", "error")]:
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        x = ok[name]
        if not pd.api.types.is_numeric_dtype(x):
            x = x.astype(str)
        ax.plot(x, ok["value"], "o", alpha=0.6)
        ax.set_xlabel(name)
        ax.set_ylabel("objective")
        numeric = pd.api.types.is_numeric_dtype(ok[name]) and (ok[name] > 0).all()
        if numeric and ok[name].max() / max(ok[name].min(), 1e-300) > 50:
            ax.set_xscale("log")
        written[f"param_{name}"] = out / f"param_{_safe(name)}.png"
        writes[written[f"param_{name}"]] = _png(fig)
    return written, writes


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)


def _png(fig):
    """The figure as PNG bytes (closed), as a writer of them to an open binary file."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=110)
    finally:
        plt.close(fig)
    data = buffer.getvalue()
    return lambda fh: fh.write(data)

