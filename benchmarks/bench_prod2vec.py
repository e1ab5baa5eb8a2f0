"""Prod2Vec against gensim's Word2Vec on the same generated baskets, and the tuning step on 1 vs 2 workers.

Part 1, throughput and quality. Baskets from ``make_baskets(n_orders, seed=0)``
(2,000 products in 60 aisles and 12 departments). Each run is a fresh Python
process on one thread (gensim ``workers=1``; TensorFlow with one intra-op
and one inter-op thread): gensim ``Word2Vec(sg=1, negative=5,
window=<largest basket>, shrink_windows=False, sample=0, min_count=5)``
against ``Prod2Vec(negatives=5, subsample=0, min_count=5)`` with the same
dimension and epochs. With no subsampling and a window covering every
basket, both train on exactly every ordered pair of two products of a
basket, ``sum(s * (s - 1))`` per epoch, so pairs per second compare like
for like. The runs alternate (gensim, m5kit, gensim, ...); the script
reports medians of the wall time, the CPU time of the process (user +
system: on a busy machine the wall time includes waiting for a core, the
CPU time does not), pairs per wall second and per CPU second (per core),
and the quality of both by the same measure, ``neighbour_score``: the share
of each product's 10 nearest neighbours (cosine) in its aisle (and
department). Building the vocabulary is inside gensim's timing and inside
``fit``'s; generating the baskets is outside both.

Part 2, the pipeline's tuning step: ``m5kit prod2vec run --tune --trials N
--workers W`` for W = 1 and 2 on small generated data, each in a new run
folder. The tuning step's wall time runs from the quality step's
``passed.json`` to the tuning step's ``best.json`` (cluster start included);
trials per minute = N / that time.

Usage::

    python benchmarks/bench_prod2vec.py                       # 100k orders, dim 100, 3 epochs, 3 repeats
    python benchmarks/bench_prod2vec.py --orders 200000 --repeats 3 --trials 8
    python benchmarks/bench_prod2vec.py --skip-tune

Needs ``pip install .[bench]`` (gensim) and ``.[tune]`` (Optuna). Writes
``benchmarks/results/prod2vec.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def _baskets(n_orders: int):
    from m5kit.datasets.baskets import make_baskets

    data = make_baskets(n_orders=n_orders, seed=0)
    data.prior = data.prior.sort_values("order_id", kind="stable").reset_index(drop=True)
    return data


def _score(products_, vectors, products) -> dict:
    """neighbour_score of any vectors, through a Prod2Vec holding them."""
    import numpy as np
    import pandas as pd

    from m5kit.models.embeddings import Prod2Vec, neighbour_score

    holder = Prod2Vec()
    holder.products_ = np.asarray(products_)
    holder.embeddings_ = pd.DataFrame(vectors, index=holder.products_,
                                      columns=[f"emb_{i}" for i in range(vectors.shape[1])])
    return {"aisle": neighbour_score(holder, products, "aisle_id", k=10),
            "department": neighbour_score(holder, products, "department_id", k=10)}


def _child(which: str, n_orders: int, dim: int, epochs: int) -> dict:
    """One timed fit in this (fresh, one-thread) process."""
    import numpy as np

    data = _baskets(n_orders)
    counts = data.prior["product_id"].value_counts()
    kept = data.prior[data.prior["product_id"].isin(counts.index[counts >= 5])]
    sizes = kept.groupby("order_id").size().to_numpy()
    pairs = int((sizes * (sizes - 1)).sum()) * epochs
    if which == "gensim":
        from gensim.models import Word2Vec

        sentences = [g.astype(str).tolist() for g in np.split(kept["product_id"].to_numpy(),
                                                             np.flatnonzero(np.diff(kept["order_id"].to_numpy())) + 1)]
        wall, cpu = time.perf_counter(), time.process_time()
        model = Word2Vec(sentences, vector_size=dim, sg=1, negative=5, window=int(sizes.max()), shrink_windows=False,
                         sample=0, min_count=5, epochs=epochs, workers=1, seed=0)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        ids = np.array([int(k) for k in model.wv.index_to_key])
        order = np.argsort(ids)
        quality = _score(ids[order], model.wv.vectors[order], data.products)
        version = __import__("gensim").__version__
    else:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        from m5kit.models.embeddings import Prod2Vec

        model = Prod2Vec(embedding_dim=dim, negatives=5, epochs=epochs, subsample=0, min_count=5, random_state=0)
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(data.prior)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert model.n_pairs_ == pairs, (model.n_pairs_, pairs)
        quality = _score(model.products_, model._vectors(), data.products)
        version = __import__("keras").__version__
    return {"which": which, "version": version, "wall": wall, "cpu": cpu, "pairs": pairs,
            "pairs_per_second": pairs / wall, "pairs_per_cpu_second": pairs / cpu, "quality": quality,
            "load": os.getloadavg()[0]}


def _run_child(which: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", which, "--orders", str(args.orders), "--dim", str(args.dim),
           "--epochs", str(args.epochs)]
    out = subprocess.run(cmd, env={**os.environ, **ONE_THREAD}, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{which} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _tune_run(workers: int, args, root: Path) -> dict:
    out = root / f"tune-w{workers}"
    # the m5kit of this Python (its venv's bin), whether or not that venv is on PATH
    m5kit = Path(sys.executable).with_name("m5kit")
    cmd = [str(m5kit) if m5kit.exists() else "m5kit", "prod2vec", "run", "--orders", str(args.tune_orders),
           "--epochs", "1", "--tune", "--trials", str(args.trials), "--workers", str(workers), "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(cmd, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    tune = (out / "04_tune" / "best.json").stat().st_mtime - (out / "02_quality" / "passed.json").stat().st_mtime
    return {"workers": workers, "command": " ".join(cmd), "run_wall": wall, "tune_wall": tune,
            "trials_per_minute": args.trials * 60.0 / tune, "load": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tune-orders", type=int, default=3000)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--tune-repeats", type=int, default=1)
    parser.add_argument("--skip-tune", action="store_true")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--child", choices=("gensim", "m5kit"))
    parser.add_argument("--output", type=Path, default=HERE / "results" / "prod2vec.json")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.orders, args.dim, args.epochs)))
        return 0

    import keras
    import numpy as np

    print(f"$ python benchmarks/bench_prod2vec.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}, "
          f"Keras {keras.__version__}; load average at start {os.getloadavg()}")
    report: dict = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                    "cores": os.cpu_count(), "load_start": os.getloadavg()}
    if not args.skip_train:
        runs = []
        for r in range(args.repeats):
            for which in (("gensim", "m5kit") if r % 2 == 0 else ("m5kit", "gensim")):
                runs.append(_run_child(which, args))
                x = runs[-1]
                print(f"  {which:6s} wall {x['wall']:6.1f} s  cpu {x['cpu']:6.1f} s  {x['pairs_per_cpu_second']:9.0f} "
                      f"pairs/cpu-s  aisle {x['quality']['aisle']:.3f}  load {x['load']:.1f}", flush=True)
        summary = {}
        for which in ("gensim", "m5kit"):
            mine = [x for x in runs if x["which"] == which]
            summary[which] = {k: statistics.median(x[k] for x in mine)
                              for k in ("wall", "cpu", "pairs_per_second", "pairs_per_cpu_second")}
            summary[which].update(pairs=mine[0]["pairs"], version=mine[0]["version"],
                                  aisle=statistics.median(x["quality"]["aisle"] for x in mine),
                                  department=statistics.median(x["quality"]["department"] for x in mine))
        g, m = summary["gensim"], summary["m5kit"]
        print(f"\n{'':8s}{'wall s':>8s}{'CPU s':>8s}{'pairs/s':>11s}{'pairs/CPU-s':>13s}{'aisle@10':>10s}{'dept@10':>9s}")
        for which, x in summary.items():
            print(f"{which:8s}{x['wall']:8.1f}{x['cpu']:8.1f}{x['pairs_per_second']:11.0f}{x['pairs_per_cpu_second']:13.0f}"
                  f"{x['aisle']:10.3f}{x['department']:9.3f}")
        ratio = m["pairs_per_cpu_second"] / g["pairs_per_cpu_second"]
        print(f"m5kit / gensim pairs per CPU-second: {ratio:.2f}; aisle score difference {m['aisle'] - g['aisle']:+.3f}")
        report.update(runs=runs, summary=summary, ratio_per_cpu_second=ratio)
    if not args.skip_tune:
        tunes = []
        with tempfile.TemporaryDirectory(prefix="bench-p2v-") as tmp:
            for r in range(args.tune_repeats):
                for workers in ((1, 2) if r % 2 == 0 else (2, 1)):
                    x = _tune_run(workers, args, Path(tmp) / f"r{r}")
                    tunes.append(x)
                    print(f"  tune --workers {workers}: {x['tune_wall']:.1f} s for {args.trials} trials "
                          f"({x['trials_per_minute']:.1f}/min), whole run {x['run_wall']:.1f} s, load {x['load']:.1f}",
                          flush=True)
                shutil.rmtree(Path(tmp) / f"r{r}", ignore_errors=True)
        per = {w: statistics.median(x["trials_per_minute"] for x in tunes if x["workers"] == w) for w in (1, 2)}
        print(f"tuning: {per[1]:.1f} trials/min on 1 worker, {per[2]:.1f} on 2: {per[2] / per[1]:.2f}x")
        report.update(tune=tunes, tune_speedup=per[2] / per[1])
    report["load_end"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
