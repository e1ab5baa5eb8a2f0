"""The one module that owns the Dask client and the per-group dispatch.

Estimators never create clients themselves: they call :func:`open_client`
to get one (a ``LocalCluster`` started for the run, an existing scheduler, or
a ``distributed.Client`` the user passed) and :func:`run_tasks` to send one
task per group. Dask is imported only here, and only when a cluster is asked
for.

Examples
--------
>>> from m5kit.execution.cluster import open_client
>>> with open_client(n_workers=2) as client:        # doctest: +SKIP
...     print(client.dashboard_link)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import random
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from m5kit.execution.threads import THREAD_ENV
from m5kit._checks import whole
from m5kit.errors import ClusterError, ParamError

__all__ = [
    "Task",
    "timed",
    "task_key",
    "step_prefix",
    "TaskOutcome",
    "open_client",
    "run_tasks",
    "run_chains",
    "private_dask_random",
    "close_local_clusters",
    "check_address",
]

logger = logging.getLogger(__name__)

#: Local clusters started by m5kit, reused by fit and predict of one session.
_LOCAL: dict[tuple, Any] = {}


@dataclass
class Task:
    """One unit of work: ``func(data, *args)`` for one group.

    ``data`` is the group's own rows: it is sent to the cluster once, to the
    worker that runs this task, and to no other task.

    Parameters
    ----------
    name : str
        The group's name: the task's key on the dashboard and in the outcomes.
    func : callable
        A module-level function (workers import it by name).
    data : object
        The group's own data, the first argument of ``func``.
    args : tuple, default ()
        The other arguments of ``func``, shared by every task of a run.
    """

    name: str
    func: Callable
    data: Any
    args: tuple = ()


@dataclass
class TaskOutcome:
    """What came back for one task: its result, or the error it raised.

    Attributes
    ----------
    name : str
        The task's name (its group).
    result : object
        What ``func`` returned; None when it raised.
    error : BaseException or None
        What ``func`` raised on its last attempt; None when it succeeded.
    attempts : int
        How many times the task ran (more than 1 when a lost worker made it run again).
    seconds : float
        Wall seconds of the last attempt on its worker.
    traceback : str or None
        The worker's traceback of ``error``.
    """

    name: str
    result: Any = None
    error: BaseException | None = None
    attempts: int = 1
    seconds: float = 0.0
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _thread_plugin():
    from m5kit.execution.plugin import ThreadLimitPlugin

    return ThreadLimitPlugin()


def private_dask_random() -> None:
    """Give Dask's own random sampling a generator of its own, in this process.

    ``dask.sizeof`` (which sizes every message a worker sends, heartbeats
    included) and distributed's compression sample with Python's global
    ``random``, on the worker's event-loop thread, while a task runs on
    another thread. Keras seeds every initializer built without an explicit
    seed from that same global generator (after ``set_random_seed``), so
    such a model fitted on a worker got other initial weights whenever a
    heartbeat was sized mid-build: measured, 2-3 of 4 group fits differed
    from the same fit in-process. m5kit's CNN-LSTM now passes explicit
    seeds; this keeps any other estimator given to GroupedEstimator that
    relies on the global seed reproducible too. Dask's sampling only
    estimates sizes; a private generator changes nothing else. Touches only
    modules already imported; safe to call again.

    Examples
    --------
    >>> private_dask_random()
    """
    sizeof = sys.modules.get("dask.sizeof")
    if sizeof is not None and getattr(sizeof, "random", None) is random:
        sizeof.random = random.Random()
    compression = sys.modules.get("distributed.protocol.compression")
    if compression is not None and getattr(compression, "randint", None) is random.randint:
        compression.randint = random.Random().randint


def _local_client(n_workers: int, dashboard: bool, host: str):
    """Start (or reuse) a LocalCluster of ``n_workers`` single-thread workers."""
    key = (n_workers, dashboard, host)
    client = _LOCAL.get(key)
    if client is not None and client.status == "running":
        return client
    from distributed import Client

    from m5kit.execution.plugin import IgnoreInterruptPlugin

    logger.info("starting a LocalCluster with %d single-thread workers", n_workers)
    client = Client(_local_cluster(n_workers, dashboard, host), set_as_default=False)
    client.register_plugin(IgnoreInterruptPlugin())  # Ctrl-C stops the command, which closes the cluster
    _LOCAL[key] = client
    return client


def _local_cluster(n_workers: int, dashboard: bool, host: str, silence_logs: int = logging.ERROR):
    """A new LocalCluster of ``n_workers`` worker processes with m5kit's worker settings (one thread each)."""
    from distributed import LocalCluster

    import dask

    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536. Setting it at all, to any value, also
    # fixes glibc's mmap threshold at 128 KiB (its dynamic threshold is switched off), so every array
    # above 128 KiB is mapped afresh and its pages zeroed by the kernel on first touch. Measured on one
    # thread: a prod2vec tuning trial (100,000 generated orders) took 20-30x the page faults and
    # 2-3 s more system CPU per 13 s (+20-25% wall), an InceptionTime network +0.7-1 s of system CPU
    # per fit, a small CNN-LSTM fit 15-40k faults instead of ~100; at 64 KiB it had also made small
    # Keras fits ~15% slower. Workers are left with glibc's defaults, as in any Python process (a
    # MALLOC_TRIM_THRESHOLD_ in the environment that starts the cluster is still passed on). glibc reads
    # it at process start, so this goes in the pre-spawn environment; None drops Dask's value.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host=host,
            dashboard_address=f"{host}:8787" if dashboard else None,
            env=dict(THREAD_ENV),
            silence_logs=silence_logs,
        )
    return cluster


def close_local_clusters() -> None:
    """Shut down every LocalCluster that m5kit started in this process."""
    while _LOCAL:
        _, client = _LOCAL.popitem()
        cluster = client.cluster
        with contextlib.suppress(Exception):
            client.close()
        with contextlib.suppress(Exception):
            cluster.close()


def check_address(address: str) -> None:
    """Refuse an address Dask cannot parse now: a Client made for it is left behind and fails again at exit."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        backend = get_backend(scheme)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
        try:  # ucx:// without its package: Dask's stand-in connector cannot be made (a TypeError traceback)
            backend.get_connector()
            if scheme == "ucx":
                _check_ucx(backend)
        except (TypeError, ImportError, NotImplementedError, RuntimeError) as exc:
            raise ValueError(f"this Dask cannot connect over {scheme}:// ({type(exc).__name__}: {exc})") from None
        if scheme == "inproc":
            _check_inproc(location)
    except ValueError as exc:
        raise ClusterError(
            f"invalid Dask scheduler address {address!r} ({exc}): give tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"
        ) from None
    if scheme == "tls":
        import dask
        from distributed.security import Security

        # what Client uses: a configured security loader's credentials, else Security() from Dask's config
        try:
            bare = (not dask.config.get("distributed.client.security-loader", None)
                    and Security().get_connection_args("client").get("ssl_context") is None)
        except Exception:  # settings Dask cannot load: Client says what is wrong with them
            bare = False
        if bare:  # was Dask's TypeError traceback ("TLS expects a `ssl_context` argument")
            raise ClusterError(
                f"the Dask scheduler at {address} needs TLS certificates, and Dask's config gives none: set "
                "distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and .key (or their DASK_DISTRIBUTED__"
                "COMM__TLS__... variables), or give the scheduler's tcp:// address"
            )


def _check_ucx(backend) -> None:
    """A ModuleNotFoundError if ``backend`` is the ucx:// backend of Distributed < 2025 and UCX-Py is not installed.

    That backend makes its connector without UCX-Py and imports it (``ucp``) on
    the first connection: a ModuleNotFoundError traceback from inside Client.
    """
    import importlib.util

    module = sys.modules.get(type(backend).__module__)
    if callable(getattr(module, "init_once", None)) and importlib.util.find_spec("ucp") is None:
        raise ModuleNotFoundError("UCX-Py (the ucp package) is not installed")


def _check_inproc(location: str) -> None:
    """A ValueError unless a scheduler of this very process listens at the inproc:// ``location``."""
    from distributed.comm.inproc import global_manager

    try:
        listener = global_manager.get_listener_for(location)
    except ValueError:  # another process' address, or not one at all
        listener = None
    if listener is None:
        raise ValueError("no scheduler of this process listens there: inproc:// reaches only this process")


def _remote_client(address: str, timeout: float):
    from distributed import Client

    check_address(address)
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({type(exc).__name__}): "
            "check the address and that `dask scheduler` is running there"
        ) from None
    try:  # a scheduler no worker joined: the first scatter gave up with Dask's "No valid workers found" traceback
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        client.close()
        raise ClusterError(
            f"the Dask scheduler at {address} has no worker (none joined within {timeout:g} s): start workers with "
            f"`dask worker {address}`, or wait longer for them (--timeout, timeout=)"
        ) from None
    client.register_plugin(_thread_plugin())
    return client


@contextlib.contextmanager
def open_client(
    n_workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    *,
    timeout: float = 30.0,
    dashboard: bool = True,
    host: str = "127.0.0.1",
) -> Iterator[Any]:
    """Give a ``distributed.Client`` for a run.

    Exactly one source is used, in this order: ``client`` (yours, left
    open), ``scheduler`` (an existing cluster's address, e.g.
    ``tcp://10.0.0.5:8786``; the connection is closed afterwards), or a
    ``LocalCluster(n_workers, threads_per_worker=1)`` started on ``host``
    (127.0.0.1 by default) and kept for the rest of the session so that a
    later ``predict`` reuses it (:func:`close_local_clusters` ends it).

    Parameters
    ----------
    n_workers : int, optional
        Workers of the local cluster (one thread each).
    scheduler : str, optional
        Address of an existing scheduler.
    client : distributed.Client, optional
        A client you manage.
    timeout : float
        Seconds to wait for a remote scheduler, and then for a first worker
        of it, before :class:`ClusterError`.
    dashboard : bool
        Serve the Dask dashboard of a local cluster (needs bokeh).
    host : str
        Interface the local scheduler, workers and dashboard listen on.

    Yields
    ------
    distributed.Client
    """
    if client is not None:
        if not callable(getattr(client, "register_plugin", None)):  # was a bare AttributeError on .register_plugin
            hint = ": pass an address as scheduler= instead" if isinstance(client, str) else ""
            raise ParamError(f"client must be a distributed.Client, got a {type(client).__name__}{hint}")
        if getattr(client, "status", None) in ("closing", "closed"):  # was a bare AttributeError or RuntimeError
            raise ClusterError(f"the Dask client given is {client.status}: pass a running distributed.Client, or "
                               "give n_workers= or scheduler= instead")
        client.register_plugin(_thread_plugin())
        _log_dashboard(client)
        yield client
        return
    if scheduler:
        remote = _remote_client(str(scheduler), timeout)
        _log_dashboard(remote)
        try:
            yield remote
        finally:
            remote.close()
        return
    if n_workers is None:
        raise ClusterError("no cluster requested: give n_workers, a scheduler address or a client")
    local = _local_client(whole(n_workers, "number of workers"), dashboard, host)
    _log_dashboard(local)
    yield local


def _log_dashboard(client) -> None:
    link = getattr(client, "dashboard_link", None)
    if link:
        logger.info("Dask dashboard: %s", link)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")


def task_key(prefix: str, name: str) -> str:
    """A unique Dask key ``m5kit_<prefix>-<token>-<group>``: the step on the dashboard, then the group.

    Dask files a task under a task prefix made of its key's words up to the
    first word that is not alphabetic or looks like a hex token
    (``dask.utils.key_split``): ``fit-FOODS-<token>`` made a prefix
    ``fit-FOODS`` of its own, and ``m5kit-forecast-...`` would fall under
    ``m5kit`` (an 8-letter word starting with a-f passes for hex). The step
    is therefore one word, ``m5kit_<prefix>``: every task of a step is one
    bar in the dashboard's Progress panel and one colour in its task
    stream, whatever its groups are called.

    Parameters
    ----------
    prefix : str
        The step (``"fit"``, ``"forecast"``, ...), made a prefix by :func:`step_prefix`.
    name : str
        The group; runs of characters other than letters, digits, ``_`` and
        ``.`` become ``_``.

    Returns
    -------
    str
        The key, unique thanks to a random 8-digit hex token.

    Examples
    --------
    >>> from dask.utils import key_split
    >>> key_split(task_key("forecast", "FOODS"))
    'm5kit_forecast'
    """
    return f"{step_prefix(prefix)}-{uuid.uuid4().hex[:8]}-{_UNSAFE.sub('_', name)}"


def step_prefix(step: str) -> str:
    """The dashboard's task prefix of a step's tasks (``"fit"`` -> ``"m5kit_fit"``).

    Parameters
    ----------
    step : str
        The step's name; runs of characters other than letters, digits,
        ``_`` and ``.`` become ``_``.

    Returns
    -------
    str
        ``"m5kit_" + step``.
    """
    return f"m5kit_{_UNSAFE.sub('_', step)}"


class _Raised:
    """A task's own exception, returned as a value (with its traceback text).

    Returned rather than raised so that Dask neither retries a group's own
    error (retries are for lost workers) nor logs its traceback on every
    worker's terminal; :func:`run_tasks` puts it back in the outcome.
    """

    def __init__(self, error: BaseException, text: str):
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:  # an exception that cannot travel back: keep its type and message
            error = RuntimeError(f"{type(error).__name__}: {error}")
        self.error = error
        self.traceback = text


def timed(func: Callable, data: Any, *args) -> tuple[Any, float]:
    """Run ``func(data, *args)`` and time it (module-level: sent to workers).

    The task's own exception comes back as a :class:`_Raised` value.

    Parameters
    ----------
    func : callable
        The task, called as ``func(data, *args)``.
    data : object
        Its first argument (a group's data).
    *args
        Its other arguments.

    Returns
    -------
    result : object
        What ``func`` returned, or a :class:`_Raised` holding the
        :class:`Exception` it raised and its traceback text.
    seconds : float
        The call's wall time.
    """
    start = time.perf_counter()
    try:
        result = func(data, *args)
    except Exception as exc:
        result = _Raised(exc, traceback.format_exc())
    return result, time.perf_counter() - start


def _settle(outcome: TaskOutcome, value: Any, seconds: float) -> None:
    """Put a task's returned value (or its :class:`_Raised` error) into its outcome."""
    outcome.seconds = seconds
    if isinstance(value, _Raised):
        outcome.error, outcome.traceback = value.error, value.traceback
    else:
        outcome.result = value


def run_tasks(
    tasks: Sequence[Task],
    client: Any = None,
    *,
    prefix: str = "fit",
    retries: int = 2,
    on_done: Callable[[TaskOutcome], None] | None = None,
    after: str | None = None,
) -> list[TaskOutcome]:
    """Run one task per group, in this process or on a Dask cluster.

    A task's own error does not stop the others: it is returned in its
    :class:`TaskOutcome` (with its traceback text) and is not retried. With
    a client, each task's data is scattered to the cluster once and only
    its task reads it; a task lost with its worker (the worker process died)
    is sent again, up to ``retries`` more times, and its outcome's
    ``attempts`` says how many times it was started.

    On the Dask dashboard the tasks are ``m5kit_<prefix>-<token>-<group>``
    (see :func:`task_key`), and its Progress panel counts them truly until
    the run ends: a finished task's result is released as soon as it is
    gathered (the models would fill the workers' memory), and a small token
    under the same task prefix stands in for it until ``run_tasks``
    returns (see :class:`_Tokens`).

    Parameters
    ----------
    tasks : sequence of Task
    client : distributed.Client, optional
        None runs the tasks one after the other in this process.
    prefix : str
        The step's name on the dashboard: keys are ``m5kit_<prefix>-<token>-<group>``.
    retries : int
        Extra attempts for a task whose worker died (0: none). A group's own
        error is never retried: fitting it again would raise again.
    on_done : callable, optional
        Called with each :class:`TaskOutcome` as it completes (progress bars).
    after : str, optional
        The name of a step that ``on_done`` does in this process for each
        finished task (``"store"``: it saves the group): on the dashboard a
        task prefix ``m5kit_<after>`` counts the tasks it has done.

    Returns
    -------
    list of TaskOutcome, in the order of ``tasks``.
    """
    if client is None:
        from threadpoolctl import threadpool_limits

        # BLAS and OpenMP on one thread, as on the workers (set there before any import): a multi-threaded
        # BLAS sums in another order, and an in-process fit would differ from the cluster's in the last digits
        with threadpool_limits(limits=1):
            return [_run_here(task, on_done) for task in tasks]
    kept: list = []  # the dashboard's tokens of finished tasks, released when the run ends
    try:
        return _run_on_dask(tasks, client, prefix, retries, on_done, after, kept)
    finally:
        kept.clear()


def _chain_step(func: Callable, data: Any, previous: tuple | None, *args) -> tuple[Any, float]:
    """One step of a chain (module-level: sent to workers): ``func(data, *args, state)``, timed.

    ``previous`` is the step before's ``(value, seconds)`` (None for the
    first step): its value is this step's ``state``, and the seconds add up
    along the chain. A step before that raised is passed on unchanged.
    """
    if previous is None:
        return timed(func, data, *args, None)
    state, spent = previous
    if isinstance(state, _Raised):
        return previous
    value, seconds = timed(func, data, *args, state)
    return value, spent + seconds


def run_chains(
    data: Any,
    chains: Sequence[Sequence[tuple]],
    names: Sequence[str],
    client: Any,
    *,
    prefix: str = "fit",
    on_done: Callable[[TaskOutcome], None] | None = None,
) -> list[TaskOutcome]:
    """Run chains of dependent steps on the cluster, breadth first, one step per worker thread at a time.

    Each chain is a list of ``(func, args)`` steps: the first runs
    ``func(data, *args, None)``, each later one ``func(data, *args,
    state)`` with the value the step before returned, which stays on the
    cluster (it goes from one worker to the next, never through this
    process). Only each chain's last value is gathered. This is how one long
    task is cut into parts so that ``n`` tasks keep ``w`` workers busy when
    ``w`` does not divide ``n`` (5 networks on 2 workers: 3 rounds of whole
    networks, or 5 rounds of half networks, 2.5 networks' time).

    The order is breadth first: a free worker thread gets the earliest step
    ready (first steps before second steps, then by chain), and no more
    steps are sent than the cluster has threads, so the scheduler places
    each on a free one (the step's state moves to it if it ran elsewhere).
    ``data`` is sent to every worker once. A step's own error ends its
    chain (its outcome carries it; the others go on); a step lost with its
    worker ends its chain with :class:`ClusterError` (not retried: its
    state died with the worker).

    Parameters
    ----------
    data : object
        What every step reads (its first argument).
    chains : sequence of sequences of (callable, tuple)
    names : sequence of str
        One name per chain (the outcomes' names; the dashboard's keys are
        ``m5kit_<prefix>-<token>-<name>-part<k>``).
    client : distributed.Client
    prefix : str
        The step's name on the dashboard.
    on_done : callable, optional
        Called with each chain's :class:`TaskOutcome` when its last step is back.

    Returns
    -------
    list of TaskOutcome, in the order of ``chains`` (``seconds``: the chain's steps' own time, summed).
    """
    import heapq

    from distributed import as_completed

    if any(len(chain) == 0 for chain in chains) or len(names) != len(chains):
        raise ValueError("run_chains needs one name and at least one step per chain")
    outcomes: list[TaskOutcome | None] = [None] * len(chains)
    if not chains:
        return []
    slots = max(1, sum(client.nthreads().values()))
    [shared] = client.scatter([data], broadcast=True, hash=False)
    ready = [(0, c) for c in range(len(chains))]
    heapq.heapify(ready)
    previous: dict[int, Any] = {}  # chain -> the future of its last finished step
    running: dict[str, tuple[int, int]] = {}  # key -> (chain, step)
    pending = as_completed(loop=client.loop)

    def send():
        while ready and len(running) < slots:
            step, c = heapq.heappop(ready)
            func, args = chains[c][step]
            key = task_key(prefix, f"{names[c]}-part{step + 1}")
            fut = client.submit(_chain_step, func, shared, previous.pop(c, None), *args, key=key, pure=False)
            running[fut.key] = (c, step)
            pending.add(fut)

    try:
        send()
        for fut in pending:
            c, step = running.pop(fut.key)
            if fut.status == "finished" and step + 1 < len(chains[c]):
                previous[c] = fut  # its value goes to the next step, from worker to worker
                heapq.heappush(ready, (step + 1, c))
            else:  # the chain's last step, or a step the cluster lost (its worker died) or cancelled
                outcome = outcomes[c] = TaskOutcome(names[c])
                try:
                    _settle(outcome, *fut.result())
                except (Exception, asyncio.CancelledError) as exc:  # FutureCancelledError, KilledWorker, ...
                    outcome.error = ClusterError(
                        f"step {step + 1} of {names[c]} did not finish on the cluster ({type(exc).__name__}: its "
                        "worker died, out of memory or killed?): give the workers more memory and run again")
                fut.release()
            if outcomes[c] is not None and on_done is not None:
                on_done(outcomes[c])
            send()
    except BaseException:  # e.g. Ctrl-C: send nothing more, drop what runs
        for fut in previous.values():
            fut.release()
        raise
    return outcomes


def _run_here(task: Task, on_done) -> TaskOutcome:
    outcome = TaskOutcome(task.name)
    _settle(outcome, *timed(task.func, task.data, *task.args))  # a group's own failure is reported, not fatal
    if on_done is not None:
        on_done(outcome)
    return outcome


def _run_on_dask(tasks, client, prefix, retries, on_done, after, kept) -> list[TaskOutcome]:
    """Run the tasks on the cluster; resubmit those whose data died with a worker.

    A task whose scattered data was lost with its worker is cancelled by the
    scheduler (scattered data cannot be recomputed), so Dask's own retries do
    not cover it: its data is scattered again and it runs again, up to
    ``retries`` times. (A task whose data survived is rerun by the scheduler
    itself, up to ``distributed.scheduler.allowed-failures`` times.) A task
    still lost after the last round gets a :class:`ClusterError` that says
    so. ``on_done`` sees each task once, with its final outcome.
    """
    outcomes: list[TaskOutcome | None] = [None] * len(tasks)
    spent = [0] * len(tasks)
    todo = list(range(len(tasks)))
    for round_ in range(retries + 1):
        final = round_ == retries

        def report(j, outcome, todo=todo, final=final):
            i = todo[j]
            outcome.attempts += spent[i]
            if _lost(outcome) and final:
                outcome.error = ClusterError(
                    f"its worker died each of the {outcome.attempts} time(s) it was sent (out of memory, or the "
                    "process was killed): give the workers more memory, or allow more retries"
                )
            if on_done is not None and not _lost(outcome):
                on_done(outcome)

        done = _dispatch(client, [tasks[i] for i in todo], prefix, report, after, kept)
        again = []
        for i, outcome in zip(todo, done):
            spent[i] = outcome.attempts
            outcomes[i] = outcome
            if _lost(outcome):
                again.append(i)
        if not again:
            break
        todo = again
        logger.warning("%d task(s) lost their data with a worker: sending them again", len(todo))
    return outcomes


def _lost(outcome: TaskOutcome) -> bool:
    """True when a task was cancelled by the cluster (e.g. its data died with a worker)."""
    from concurrent.futures import CancelledError

    return isinstance(outcome.error, CancelledError)


def _dispatch(client, tasks, prefix, on_done, after=None, kept=None) -> list[TaskOutcome]:
    """Scatter, submit and collect in bulk: a few messages per batch, not per task.

    Measured on 2 single-thread workers and 10,000 trivial tasks (see
    ``benchmarks/bench_dispatch.py``): fetching each result with its own
    ``future.result()`` cost ~5-7 ms per task, ``client.story`` over every
    worker ~1-2 ms per task and one ``submit`` per task ~0.5 ms; one
    ``client.map``, one ``gather`` per finished batch and a scheduler-only
    story remove those.
    """
    from distributed import as_completed

    if not tasks:
        return []
    # One scatter call: each group's rows go to one worker, once.
    data_futures = client.scatter([t.data for t in tasks], hash=False)
    keys = [task_key(prefix, task.name) for task in tasks]
    futures = _submit_all(client, tasks, data_futures, keys)
    del data_futures
    position = {fut.key: i for i, fut in enumerate(futures)}
    outcomes: list[TaskOutcome | None] = [None] * len(tasks)
    tokens = _Tokens(client, prefix, after, [] if kept is None else kept)
    try:
        for batch in as_completed(futures, loop=client.loop).batches():
            done = _collect(client, batch, [tasks[position[f.key]].name for f in batch])
            _count_attempts(client, [f.key for f in batch], done)
            for fut, outcome in zip(batch, done):
                outcomes[position[fut.key]] = outcome
                on_done(position[fut.key], outcome)
            tokens.add(batch, done)
    except BaseException:  # e.g. Ctrl-C or a store error in on_done: send nothing more
        tokens.abandon()
        raise
    tokens.close()
    return outcomes


class _Tokens:
    """Tiny stand-ins that keep finished tasks in the dashboard's count until the run ends.

    The dashboard's Progress panel counts the keys of a task prefix that the
    scheduler still holds, and it forgets a task once its result is
    released; :func:`_dispatch` releases each result soon after gathering it
    (a fitted model is ~150 kB: kept to the end of a level-12 run on the
    full M5 data, 30,490 of them would hold ~4.6 GB of worker memory). So
    the panel said ``fit 1/137`` while 63 of 200 groups were done. For each
    finished task a scattered ``None`` keyed ``m5kit_<step>-<token>-<group>``
    stays under the step's task prefix instead (and one under
    ``m5kit_<after>`` once ``on_done`` did that step for it), until
    :func:`run_tasks` returns. A batch's results are released only once
    their tokens are on the cluster, so the count never dips; the tokens go
    in one scatter every :attr:`EVERY` seconds, not one per batch, sent
    from a thread of its own: the scatter waits for the scheduler, which is
    busy with the running tasks, and blocking on it cost this loop ~2 ms per
    task of 10,000 trivial ones (measured on the loaded 2-core machine). A
    token lost with its worker leaves the count; the group's result is
    already here.
    """

    #: Seconds between two scatters of tokens (the held results keep the count true meanwhile).
    EVERY = 0.5

    def __init__(self, client, prefix: str, after: str | None, kept: list):
        self.client, self.prefix, self.after, self.kept = client, prefix, after, kept
        self.held: list = []  # futures of finished tasks, released with the next scatter of tokens
        self.names: dict[str, None] = {}
        self.last = time.monotonic()
        self.sender = None

    def add(self, batch, outcomes) -> None:
        for fut, outcome in zip(batch, outcomes):
            self.held.append(fut)
            if fut.status == "finished":
                self.names[task_key(self.prefix, outcome.name)] = None
                if self.after is not None and outcome.ok:  # on_done has done its step for it
                    self.names[task_key(self.after, outcome.name)] = None
        if time.monotonic() - self.last >= self.EVERY:
            if self.sender is None:
                from concurrent.futures import ThreadPoolExecutor

                self.sender = ThreadPoolExecutor(1, thread_name_prefix="m5kit-tokens")
            self.sender.submit(self._send, self.names, self.held)
            self.held, self.names, self.last = [], {}, time.monotonic()

    def close(self) -> None:
        """Send the last tokens and wait for every scatter (the held results are then released)."""
        if self.sender is not None:
            self.sender.shutdown(wait=True)
        self._send(self.names, self.held)
        self.held, self.names = [], {}

    def abandon(self) -> None:
        """Drop the tokens not sent yet, without waiting (the run is ending on an error)."""
        if self.sender is not None:
            self.sender.shutdown(wait=False, cancel_futures=True)
        self.held, self.names = [], {}

    def _send(self, names: dict, held: list) -> None:
        if names:
            try:
                self.kept.extend(self.client.scatter(names, hash=False).values())
            except Exception:  # only the dashboard's count depends on them
                logger.debug("could not keep the dashboard's tokens of %d finished task(s)", len(names), exc_info=True)
        for fut in held:
            fut.release()


def _submit_all(client, tasks, data_futures, keys) -> list:
    """One ``client.map`` for all tasks (one ``submit`` each if their arguments differ in number).

    No Dask ``retries``: they only rerun tasks that raise, and a task's own
    error comes back as a value (see :func:`timed`).
    """
    arity = {len(task.args) for task in tasks}
    if len(arity) == 1:
        columns = [list(column) for column in zip(*(task.args for task in tasks))]
        return client.map(
            timed, [task.func for task in tasks], data_futures, *columns, key=keys, pure=False
        )
    return [
        client.submit(timed, task.func, data, *task.args, key=key, pure=False)
        for task, data, key in zip(tasks, data_futures, keys)
    ]


def _collect(client, batch, names) -> list[TaskOutcome]:
    """Outcomes of finished futures: one ``gather`` for the batch, errors one by one."""
    finished = [fut for fut in batch if fut.status == "finished"]
    results: dict = {}
    if finished:
        try:
            results = dict(zip((f.key for f in finished), client.gather(finished)))
        except Exception:  # lost between finishing and gathering: fall back to one by one
            results = {}
    outcomes = []
    for fut, name in zip(batch, names):
        outcome = TaskOutcome(name)
        try:
            _settle(outcome, *(results[fut.key] if fut.key in results else fut.result()))
        except Exception as exc:  # the cluster's error (lost, cancelled), not the task's own
            outcome.error = exc
        outcomes.append(outcome)
    return outcomes


def _count_attempts(client, keys, outcomes) -> None:
    """Record how many times each task started (more than once: it was retried).

    Called for each finished batch, while the batch's transitions are still
    in the scheduler's log (it keeps the last
    ``distributed.admin.low-level-log-length`` transitions). Reads the
    scheduler's log only: ``client.story`` also asks every worker, whose
    search is quadratic in the number of keys (~1-2 ms per task at 10,000).
    """
    try:
        stories = client.sync(client.scheduler.get_story, keys_or_stimuli=list(keys))
    except Exception:  # story needs a recent scheduler; attempts stay 1
        return
    starts: dict[str, int] = {}
    for entry in stories:
        # rows: (key, start_state, finish_state, recommendations, stimulus, time)
        if len(entry) >= 3 and entry[2] == "processing":
            starts[entry[0]] = starts.get(entry[0], 0) + 1
    for key, outcome in zip(keys, outcomes):
        outcome.attempts = max(1, starts.get(key, 1))
