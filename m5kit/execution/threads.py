"""Keep every Keras backend on one thread per process.

Two workers on two cores only scale if each backend uses one thread, and the
thread variables only work when set *before* the backend is imported.
"""

from __future__ import annotations

import os

__all__ = ["THREAD_ENV", "limit_threads"]

#: Environment that keeps TensorFlow, torch, JAX and BLAS on one thread.
THREAD_ENV: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",  # hides the per-fit E0000 "use_unbounded_threadpool" lines
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


def limit_threads(force: bool = False) -> None:
    """Set the one-thread environment in this process.

    Variables already set are kept unless ``force``. Also caps torch's
    threads when torch is the Keras backend and already imported.

    Parameters
    ----------
    force : bool, default=False
        Overwrite the variables of :data:`THREAD_ENV` already set in the
        environment.
    """
    for key, value in THREAD_ENV.items():
        if force or key not in os.environ:
            os.environ[key] = value
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:  # pragma: no cover - torch backend only
        torch.set_num_threads(1)
