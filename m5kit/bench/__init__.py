"""The benchmarks behind ``m5kit bench`` and ``benchmarks/bench_*.py`` (extra: ``pip install "m5kit[bench]"``).

Each benchmark is a function in its own module (``m5kit.bench.scaling.scaling``,
...) that measures and returns tables (pandas DataFrames keyed by name, written as ``<name>.csv``); each
module's ``render`` turns them into its section of ``benchmarks/RESULTS.md``,
and :func:`run_benchmark` does all of it for the CLI and the scripts.
Nothing here prints: the CLI and the scripts do.

* :mod:`~m5kit.bench.dispatch` -- per-task cost of Dask (m5kit's
  :func:`~m5kit.execution.cluster.run_tasks` and raw ``client.map``), joblib
  (loky) and ``ProcessPoolExecutor``, and the cost of moving a group's rows
  to its worker;
* :mod:`~m5kit.bench.scaling` -- wall time of a level's fit against the
  number of workers: a serial loop, joblib, a process pool and m5kit's
  GroupedEstimator on the same groups, all running
  :func:`m5kit.grouped.fit_group`, in alternating order, repeated;
* :mod:`~m5kit.bench.projection` -- greedy list scheduling of the measured
  per-group durations on more workers than this machine has;
* :mod:`~m5kit.bench.fixed_cost` -- what a group costs besides its epochs,
  by phase, and m5kit's fit against the same network trained by Keras'
  ``Model.fit``;
* :mod:`~m5kit.bench.backends` -- the same per-group fit on TensorFlow,
  torch and JAX, each in its own process;
* :mod:`~m5kit.bench.accuracy` -- WRMSSE per training level for the
  CNN-LSTM and the baselines.

Every worker process runs with :data:`m5kit.execution.threads.THREAD_ENV` (one thread).

Examples
--------
>>> from m5kit.bench import simulate_makespan
>>> simulate_makespan([3.0, 1.0, 1.0, 1.0], n_workers=2)
3.0
"""

from m5kit.bench._common import (
    BenchExtraError,
    MeanRegressor,
    machine_info,
    require,
    wait_for_quiet,
)
from m5kit.bench._pools import close_process_pools
from m5kit.bench.dispatch import DISPATCH_METHODS, data_transfer, dispatch_overhead
from m5kit.bench.projection import FULL_M5_GROUPS, project_speedup, simulate_makespan
from m5kit.bench.report import (
    load_tables,
    markdown_table,
    plot_speedup,
    save_tables,
    update_results,
)
from m5kit.bench.runner import BENCHMARKS, HEADINGS, run_benchmark
from m5kit.bench.scaling import SCALING_METHODS, machine_ceiling

__all__ = [
    "BENCHMARKS",
    "DISPATCH_METHODS",
    "FULL_M5_GROUPS",
    "HEADINGS",
    "SCALING_METHODS",
    "BenchExtraError",
    "MeanRegressor",
    "close_process_pools",
    "data_transfer",
    "dispatch_overhead",
    "load_tables",
    "machine_ceiling",
    "machine_info",
    "markdown_table",
    "plot_speedup",
    "project_speedup",
    "require",
    "run_benchmark",
    "save_tables",
    "simulate_makespan",
    "update_results",
    "wait_for_quiet",
]
