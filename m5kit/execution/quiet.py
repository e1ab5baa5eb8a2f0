"""Import the Keras backend without its C++ start-up lines on the terminal.

TensorFlow's native libraries write several lines to the process' stderr
(file descriptor 2) while they load: absl's "All log messages before
absl::InitializeLog() is called are written to STDERR", oneDNN's "custom
operations are on", the CPU feature guard. ``TF_CPP_MIN_LOG_LEVEL`` does not
stop them (absl writes them before it reads any setting), and they land in
the middle of a progress bar, once in the client and once in every worker.
:func:`import_backend` imports Keras with file descriptor 2 pointed at a
temporary file, then puts it back; with ``M5KIT_VERBOSE=1`` (``--verbose``)
nothing is hidden. Errors are not lost: an import that fails raises as usual,
and what the libraries wrote is logged at DEBUG level.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import tempfile
import warnings
from types import ModuleType

__all__ = ["import_backend", "native_stderr_to_log", "ignore_dask_dataframe_notice", "VERBOSE_ENV"]

logger = logging.getLogger(__name__)

#: Set to 1 to let the backend's start-up lines through.
VERBOSE_ENV = "M5KIT_VERBOSE"


@contextlib.contextmanager
def native_stderr_to_log():
    """Point file descriptor 2 at a temporary file for the duration; log what was written at DEBUG.

    Python's own ``sys.stderr`` writes through the same descriptor: it is
    flushed before and after, and whatever was written meanwhile goes to the
    log instead of the terminal.
    """
    if os.environ.get(VERBOSE_ENV, "") not in ("", "0"):
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a daemon): nothing to hide
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode(errors="replace").strip()
            if text:
                logger.debug("the Keras backend wrote on import:\n%s", text)


def import_backend() -> ModuleType:
    """Import Keras (and its backend) once, without its start-up lines on the terminal.

    Threads are left as they are: Dask workers get m5kit's one-thread
    environment before they start (:mod:`m5kit.execution.threads`).

    Returns
    -------
    module
        ``keras``.

    Examples
    --------
    >>> import_backend().__name__
    'keras'
    """
    keras = sys.modules.get("keras")
    if keras is not None:
        return keras
    with native_stderr_to_log():
        keras = importlib.import_module("keras")
    if os.environ.get(VERBOSE_ENV, "") in ("", "0"):
        logging.getLogger("tensorflow").addFilter(_expected_retracing)
    return keras


def _expected_retracing(record: logging.LogRecord) -> bool:
    """Drop TensorFlow's "N out of the last M calls ... triggered tf.function retracing" warning.

    m5kit's engine traces each network it trains (one per architecture,
    learning rate and data shape, then cached for the process: see
    :mod:`m5kit.models._keras.cache`), so a worker that trains a pretrained
    model and its fine-tunes traces a handful of functions on purpose, and
    TensorFlow's counter of recent traces then warns with advice that does
    not apply. Shown with ``--verbose`` (``M5KIT_VERBOSE=1``).
    """
    return "triggered tf.function retracing" not in record.getMessage()


def ignore_dask_dataframe_notice() -> None:
    """Keep Dask's "Dask dataframe query planning is disabled" FutureWarning off the terminal.

    LightGBM imports ``dask.dataframe`` (for its Dask estimators), and Dask
    before 2025.1 installed without dask-expr (``dask[distributed]``, m5kit's
    requirement) warns about dask-expr on that import: several lines on every
    command of the lightgbm model, once in the command and once in each
    worker, about a part of Dask m5kit does not use. Other warnings are left
    as they are.
    """
    warnings.filterwarnings("ignore", message=r"\s*Dask dataframe query planning is disabled", category=FutureWarning)
