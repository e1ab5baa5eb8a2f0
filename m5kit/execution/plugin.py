"""The WorkerPlugin that keeps each Dask worker's Keras backend on one thread.

Kept in its own module so that importing m5kit does not import distributed.
"""

from __future__ import annotations

import logging
import os
import sys

from distributed.diagnostics.plugin import WorkerPlugin

from m5kit.execution.threads import THREAD_ENV, limit_threads

__all__ = ["ThreadLimitPlugin"]


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
