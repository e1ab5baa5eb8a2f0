"""The WorkerPlugins of m5kit: each worker's Keras backend on one thread; Ctrl-C left to the command.

Kept in its own module so that importing m5kit does not import distributed.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from distributed.diagnostics.plugin import WorkerPlugin

from m5kit.execution.quiet import ignore_dask_dataframe_notice
from m5kit.execution.threads import THREAD_ENV, limit_threads

__all__ = ["ThreadLimitPlugin", "IgnoreInterruptPlugin"]


class ThreadLimitPlugin(WorkerPlugin):
    """Set the one-thread environment on every worker of a cluster.

    m5kit's own LocalCluster gets the variables before its workers start;
    this plugin covers clusters that m5kit did not start. The variables take
    effect when the backend is imported after the plugin ran, which is the
    usual case since only m5kit's tasks import it; otherwise a warning is
    logged on the worker.
    """

    name = "m5kit-thread-limit"
    idempotent = True

    def setup(self, worker):  # pragma: no cover - runs on the worker
        # a worker started with one thread (m5kit's own LocalCluster, a warmed pool) imported its backend so
        already = all(os.environ.get(k) == v for k, v in THREAD_ENV.items() if k.endswith("_THREADS"))
        limit_threads(force=True)
        if not already and ("tensorflow" in sys.modules or "torch" in sys.modules or "jax" in sys.modules):
            logging.getLogger(__name__).warning(
                "worker %s imported its Keras backend before m5kit limited its threads; "
                "start workers with OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1",
                worker.address,
            )


class IgnoreInterruptPlugin(WorkerPlugin):
    """Leave Ctrl-C to the command, not to the workers of m5kit's own LocalCluster.

    Ctrl-C in a terminal reaches every process of the command, its local
    workers too: a worker then stopped on its own while the command closed
    the cluster, and 1 run in 3 or so printed its "Process Dask Worker
    process (from Nanny): ... KeyboardInterrupt" traceback (or a "Failed to
    communicate with scheduler" error) after the command's ``interrupted``
    line. Its workers now keep running and only quieten their Dask log, as
    the command does; the command stops and closes the cluster (a worker
    whose parent is gone exits with it). Given only to clusters m5kit
    starts: the workers of your own ``dask worker`` keep their Ctrl-C.
    They also keep Dask's dask-expr notice off the command's terminal, as the
    command does (:func:`~m5kit.execution.quiet.ignore_dask_dataframe_notice`),
    and Dask's "Failed to communicate with scheduler during heartbeat" record:
    the scheduler lives in the command's own process, so it is gone only when
    the command ends, and a heartbeat caught in that moment printed ~30 lines
    of chained tracebacks after the command's result.
    """

    name = "m5kit-ignore-interrupt"
    idempotent = True

    def setup(self, worker):  # pragma: no cover - runs on the worker
        if threading.current_thread() is threading.main_thread():  # where signals are set (the worker's event loop)
            signal.signal(signal.SIGINT, _quiet_on_interrupt)
        ignore_dask_dataframe_notice()  # the worker's import of LightGBM
        log = logging.getLogger("distributed.worker")
        if not any(isinstance(f, _SchedulerGone) for f in log.filters):
            log.addFilter(_SchedulerGone())


class _SchedulerGone(logging.Filter):
    """Drop a worker's heartbeat failure: on m5kit's own cluster it means the command is ending."""

    def filter(self, record: logging.LogRecord) -> bool:  # pragma: no cover - runs on the worker
        return not str(record.msg).startswith("Failed to communicate with scheduler during heartbeat")


def _quiet_on_interrupt(signum, frame) -> None:  # pragma: no cover - runs on the worker
    """Ctrl-C on a worker: the command stops and closes the cluster, whose closing lines are no news."""
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
