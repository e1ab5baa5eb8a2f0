"""Hyperparameter search (m5kit.tuning): trials per minute with 2 Dask workers against 1, and TPE against random search.

1. Workers, side by side in one run: the same search (random sampler, same seed, so both runs
   evaluate the very same trials) on a LocalCluster of 1 worker and of 2 single-thread workers,
   alternated ``--rounds`` times. The objective is a LightGBM forecast backtest (WRMSSE of the
   last 28 days of history) at ``--level`` on a small generated M5 set: a few seconds a trial.
   Workers are warmed up (imports) before the clock starts; the clock covers ``tune`` only.
   Beside trials per minute: ``busy`` (the trials' own seconds over the wall time: how many
   trials were running on average, 2.0 is both workers always busy) and the workers' CPU
   seconds per trial (the work a trial needs, whatever the load of the machine): on a shared
   machine a shortfall in speedup with ``busy`` near 2 and the same CPU per trial is CPU taken
   by other processes, not the search's dispatch.
2. Samplers: TPE and random search with the same number of trials, ``--seeds`` seeds each, in this
   process one trial at a time; the median over seeds of the best objective. ``--objective svc``:
   3-fold CV accuracy of an RBF SVC on scikit-learn's digits over log C and log gamma (cheap,
   real, with a narrow good region); ``--objective lightgbm``: the backtest WRMSSE of part 1 over
   its three LightGBM parameters (lower is better).

Prints the command, the machine (cores, load average, versions), one line per run and the
medians; writes benchmarks/results/tuning_workers.csv and tuning_samplers.csv.

Usage: python benchmarks/bench_tuning.py [--trials 10] [--rounds 2] [--level 9] [--items 20]
       [--seeds 5] [--sampler-trials 25] [--objective svc|lightgbm] [--skip workers|samplers]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The LightGBM space of the worker comparison (narrower than the default so a trial stays a few seconds).
_GBM_SPACE = {"num_leaves": (15, 127), "learning_rate": (0.02, 0.2), "n_estimators": (50, 300)}


def _warm() -> None:
    """Import what a trial needs (run on each worker before the clock starts)."""
    import lightgbm  # noqa: F401

    import m5kit.tuning_objectives  # noqa: F401
    from m5kit.pipeline import make_pipeline  # noqa: F401


def _own_cpu() -> float:
    """CPU seconds (user + system) of this process (run on each worker)."""
    import psutil

    return sum(psutil.Process().cpu_times()[:2])


def _worker_cpu(client) -> float:
    """CPU seconds the cluster's worker processes used so far."""
    return sum(client.run(_own_cpu).values())


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def _gbm_problem(args):
    """The LightGBM backtest of part 1: its data and space."""
    from m5kit import make_m5
    from m5kit.tuning import Float, Int
    from m5kit.tuning_objectives import ForecastData

    data = ForecastData(make_m5(n_items=args.items, n_stores=3, n_days=600, seed=0), args.level, "lightgbm",
                        fixed={"random_state": 0, "strategy": "direct"})
    space = {"num_leaves": Int(*_GBM_SPACE["num_leaves"], log=True),
             "learning_rate": Float(*_GBM_SPACE["learning_rate"], log=True),
             "n_estimators": Int(*_GBM_SPACE["n_estimators"], log=True)}
    return data, space


def workers(args) -> list[dict]:
    """Trials per minute of the same search with 1 and with 2 workers, alternated."""
    from m5kit.execution.cluster import close_local_clusters, open_client
    from m5kit.tuning import tune
    from m5kit.tuning_objectives import forecast_backtest

    data, space = _gbm_problem(args)
    rows = []
    for round_ in range(args.rounds):
        for n in (1, 2) if round_ % 2 == 0 else (2, 1):
            with open_client(n_workers=n, dashboard=False) as client:
                client.run(_warm)
                load = _load()
                cpu = _worker_cpu(client)
                others = _own_cpu(), client.run_on_scheduler(_own_cpu)
                start = time.perf_counter()
                result = tune(forecast_backtest, data, space, n_trials=args.trials, n_parallel=n, sampler="random",
                              seed=0, client=client)
                wall = time.perf_counter() - start
                cpu = _worker_cpu(client) - cpu
                client_cpu, scheduler_cpu = _own_cpu() - others[0], client.run_on_scheduler(_own_cpu) - others[1]
            close_local_clusters()
            row = {"round": round_ + 1, "workers": n, "trials": len(result.trials), "wall_s": round(wall, 1),
                   "trials_per_min": round(60 * len(result.trials) / wall, 2),
                   "trial_s_median": round(float(result.trials["seconds"].median()), 2),
                   "busy": round(float(result.trials["seconds"].sum()) / wall, 2),
                   "worker_cpu_s_per_trial": round(cpu / len(result.trials), 2),
                   "client_cpu_s_per_trial": round(client_cpu / len(result.trials), 3),
                   "scheduler_cpu_s_per_trial": round(scheduler_cpu / len(result.trials), 3),
                   "best_wrmsse": round(result.best_value, 4), "load_before": load, "load_after": _load()}
            rows.append(row)
            print(row, flush=True)
    return rows


def _svc_data():
    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    from m5kit.tuning_objectives import CVData

    X, y = load_digits(return_X_y=True)
    return CVData(SVC(), X / 16.0, y, scoring="accuracy", cv=3)


def samplers(args) -> list[dict]:
    """Best objective of TPE and of random search, same trials count, over several seeds."""
    from m5kit.tuning import Float, tune
    from m5kit.tuning_objectives import cross_validation, forecast_backtest

    if args.objective == "svc":
        objective, data, direction = cross_validation, _svc_data(), "maximize"
        space = {"C": Float(1e-3, 1e3, log=True), "gamma": Float(1e-5, 1e1, log=True)}
    else:
        objective, direction = forecast_backtest, "minimize"
        data, space = _gbm_problem(args)
    rows = []
    for seed in range(args.seeds):
        for sampler in ("tpe", "random"):
            start = time.perf_counter()
            result = tune(objective, data, space, n_trials=args.sampler_trials, direction=direction,
                          sampler=sampler, seed=seed)
            row = {"objective": args.objective, "direction": direction, "seed": seed, "sampler": sampler,
                   "trials": len(result.trials), "best": round(result.best_value, 4),
                   "wall_s": round(time.perf_counter() - start, 1), "load": _load()}
            rows.append(row)
            print(row, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="trials of each worker run")
    parser.add_argument("--rounds", type=int, default=2, help="1-worker and 2-worker runs, alternated")
    parser.add_argument("--level", type=int, default=9)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sampler-trials", type=int, default=25)
    parser.add_argument("--objective", choices=("svc", "lightgbm"), default="svc", help="of the sampler comparison")
    parser.add_argument("--skip", choices=("workers", "samplers"), default=None)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.basicConfig(level=logging.ERROR)
    import distributed
    import lightgbm
    import optuna
    import pandas as pd
    import sklearn

    import m5kit

    print(f"command: python benchmarks/bench_tuning.py {' '.join(sys.argv[1:])}")
    print(f"machine: {os.cpu_count()} cores, load average {_load()} (1/5 min), Python {platform.python_version()}, "
          f"m5kit {m5kit.__version__}, optuna {optuna.__version__}, distributed {distributed.__version__}, "
          f"lightgbm {lightgbm.__version__}, scikit-learn {sklearn.__version__}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.skip != "workers":
        table = pd.DataFrame(workers(args))
        table.to_csv(out / "tuning_workers.csv", index=False)
        rate = table.groupby("workers")["trials_per_min"].median()
        print(f"workers: median trials/min 1 worker {rate[1]:.2f}, 2 workers {rate[2]:.2f}: "
              f"{rate[2] / rate[1]:.2f}x (target >= 1.8x); per round: "
              + ", ".join(f"{a / b:.2f}x" for a, b in zip(table[table.workers == 2].trials_per_min,
                                                          table[table.workers == 1].trials_per_min)))
    if args.skip != "samplers":
        table = pd.DataFrame(samplers(args))
        name = "tuning_samplers.csv" if args.objective == "svc" else f"tuning_samplers_{args.objective}.csv"
        table.to_csv(out / name, index=False)
        best = {s: table[table.sampler == s]["best"].tolist() for s in ("tpe", "random")}
        sign = 1 if table["direction"].iloc[0] == "maximize" else -1
        wins = sum(sign * (t - r) > 0 for t, r in zip(best["tpe"], best["random"]))
        print(f"samplers ({args.objective}, {args.sampler_trials} trials, {args.seeds} seeds): median best "
              f"TPE {statistics.median(best['tpe']):.4f}, random {statistics.median(best['random']):.4f}; "
              f"TPE better on {wins} of {args.seeds} seeds")
    print(f"load average at the end {_load()}; wrote {out}/tuning_*.csv")


if __name__ == "__main__":
    main()
