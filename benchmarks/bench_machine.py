"""The machine's own ceiling for two workers: one CPU-bound process alone against two at once.

Every "2 workers against 1" figure in RESULTS.md assumes that two single-thread processes on
this 2-vCPU VM each run as fast as one alone. This measures it without Dask, m5kit or
scheduling in the way: ``--kernel`` is run by one process alone, then by two processes at
once (started together behind a barrier), alternated ``--rounds`` times. Each process does
the same fixed work on one thread and reports its wall and CPU seconds.

Kernels (all single-thread, set before import):

- ``keras``: training steps of a small 1-D convolutional network (``train_on_batch`` on
  random data), the kind of work the classifiers' and forecasters' tasks do;
- ``numpy``: float32 matrix products (BLAS on one thread);
- ``python``: a pure-Python loop (no memory traffic to speak of).

The throughput of two processes against one is ``2 x alone / together`` (each process does
the same work), with ``together`` the slower of the two (both finished: a batch of tasks) and,
beside it, their mean (a stream of tasks): 2.00x is perfect, and it is the ceiling of any
two-worker speedup on this machine, whatever the dispatch. The host's steal time (``/proc/stat``) is printed for each
phase: CPU time the hypervisor gave to other guests.

Usage: python benchmarks/bench_machine.py [--kernel keras numpy python] [--rounds 3]
       [--seconds 8] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def _steal() -> int:
    """Total steal ticks of all CPUs (``/proc/stat``, 8th value of the ``cpu`` line); 0 if unknown."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8])
    except (OSError, IndexError, ValueError):
        return 0


def _prepare(kernel: str):
    """Build the kernel's work (imports and first call outside the clock); return a callable doing one unit."""
    if kernel == "python":

        def unit():
            total = 0
            for i in range(200_000):
                total += i * i % 7
            return total

        return unit
    if kernel == "numpy":
        import numpy as np

        rng = np.random.default_rng(0)
        a = rng.standard_normal((384, 384), dtype=np.float32)
        b = rng.standard_normal((384, 384), dtype=np.float32)

        def unit():
            c = a
            for _ in range(20):
                c = (c @ b) * 0.01
            return c

        unit()
        return unit
    import numpy as np

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((128, 1))
    x = keras.layers.Conv1D(32, 8, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv1D(32, 5, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((64, 128, 1)).astype("float32")
    yb = rng.integers(0, 2, 64)
    model.train_on_batch(xb, yb)

    def unit():
        for _ in range(5):
            model.train_on_batch(xb, yb)

    return unit


def _child(kernel: str, units: int, barrier, queue) -> None:
    """One process: prepare the kernel, wait for the others, do ``units`` units, report times."""
    unit = _prepare(kernel)
    barrier.wait()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(units):
        unit()
    queue.put((time.perf_counter() - wall, time.process_time() - cpu))


def _phase(ctx, kernel: str, units: int, processes: int) -> dict:
    """Run ``processes`` processes of the kernel at once; return their times and the steal."""
    barrier, queue = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_child, args=(kernel, units, barrier, queue)) for _ in range(processes)]
    steal = _steal()
    for proc in procs:
        proc.start()
    times = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    return {
        "processes": processes,
        "wall": [round(w, 3) for w, _ in times],
        "cpu": [round(c, 3) for _, c in times],
        "steal_s": round((_steal() - steal) / os.sysconf("SC_CLK_TCK"), 2),
    }


def _calibrate(ctx, kernel: str, seconds: float) -> int:
    """How many units one process alone does in about ``seconds``."""
    probe = _phase(ctx, kernel, 3, 1)
    return max(3, round(3 * seconds / max(probe["wall"][0], 1e-3)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel", nargs="+", default=["keras", "numpy", "python"], choices=["keras", "numpy", "python"])
    parser.add_argument("--rounds", type=int, default=3, help="alone/together pairs per kernel (alternated)")
    parser.add_argument("--seconds", type=float, default=8.0, help="about how long one process alone runs")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "machine.json")
    args = parser.parse_args(argv)
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    ctx = mp.get_context("spawn")
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}, Python {platform.python_version()}")
    report = {"cores": os.cpu_count(), "load_before": os.getloadavg(), "kernels": {}}
    for kernel in args.kernel:
        units = _calibrate(ctx, kernel, args.seconds)
        rows = []
        for round_ in range(args.rounds):
            order = (1, 2) if round_ % 2 == 0 else (2, 1)
            phases = {n: _phase(ctx, kernel, units, n) for n in order}
            alone, together = phases[1], phases[2]
            ratio = 2 * alone["wall"][0] / max(together["wall"])
            mean_ratio = 2 * alone["wall"][0] / statistics.mean(together["wall"])
            rows.append({"alone": alone, "together": together, "two_vs_one": round(ratio, 3),
                         "two_vs_one_mean": round(mean_ratio, 3)})
            print(
                f"{kernel:7s} round {round_ + 1}: alone {alone['wall'][0]:.2f} s (cpu {alone['cpu'][0]:.2f}), "
                f"together {'/'.join(f'{w:.2f}' for w in together['wall'])} s "
                f"(cpu {'/'.join(f'{c:.2f}' for c in together['cpu'])}), steal {alone['steal_s']}/{together['steal_s']} s: "
                f"two vs one {ratio:.2f}x"
            )
        median = statistics.median(r["two_vs_one"] for r in rows)
        median_mean = statistics.median(r["two_vs_one_mean"] for r in rows)
        print(f"{kernel:7s} median two vs one: {median:.2f}x until both finish, {median_mean:.2f}x on their mean "
              f"time ({units} units per process)")
        report["kernels"][kernel] = {"units": units, "rounds": rows, "median_two_vs_one": median,
                                     "median_two_vs_one_mean": median_mean}
    report["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
