"""The prod2vec data path at Instacart's size: generate, write, load, pre-process, check, make the pairs.

Instacart's prior file has 32.4 M (order, product) rows: 3.2 M prior orders of 49,688 products in
134 aisles and 21 departments. Each step below runs in a fresh Python process, so that its peak
RSS (``ru_maxrss``) is its own; the script reports each step's wall time, CPU time (user + system)
and peak RSS:

* ``generate + write``: ``make_baskets`` at that size, then ``write_baskets`` (Instacart's CSV files);
* ``load_baskets``: reading those files with every check;
* ``pipeline: pre-process + quality``: the first two steps of ``m5kit prod2vec run`` on that folder
  (``step_preprocess`` and ``step_quality``);
* ``pairs, one epoch``: every genuine (target, context) pair of every basket, made the way
  ``Prod2Vec.fit`` makes them (``chunk_rows`` basket rows at a time, no subsampling: the most pairs
  an epoch can have), counted and dropped; no training;
* ``train, one epoch`` (with ``--train``): ``Prod2Vec(epochs=1)`` at its defaults (subsampling
  1e-3, dimension 100, one thread) fitted on all the pre-processed rows.

Usage::

    python benchmarks/bench_baskets_size.py [--orders 3214874] [--train] [--keep DIR] [--output FILE] [--step NAME]

The steps import m5kit as the child process finds it: run the script from outside the repository with
``PYTHONPATH`` naming the checkout to measure (``python -c`` puts the current folder first on the path).

Writes ``benchmarks/results/baskets_size.json``. The files take ~1 GB of disk (removed after,
unless ``--keep``).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = r"""
import json, resource, sys, time
from dataclasses import asdict
from pathlib import Path
step, orders, folder, run = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
wall, cpu = time.perf_counter(), time.process_time()
facts = {}
if step == "generate + write":
    from m5kit.datasets.baskets import make_baskets, write_baskets
    data = make_baskets(orders, n_products=49_688, n_aisles=134, n_departments=21, seed=0)
    facts["generate_s"] = round(time.perf_counter() - wall, 2)
    write_baskets(data, folder)
    facts["rows"] = data.n_rows
    facts["csv_mb"] = round(sum(p.stat().st_size for p in folder.iterdir()) / 1e6, 1)
elif step == "load_baskets":
    from m5kit.datasets.baskets import load_baskets
    data = load_baskets(folder)
    facts["rows"] = data.n_rows
    facts["prior_mb"] = round(data.prior.memory_usage(deep=True).sum() / 1e6, 1)
elif step == "pipeline: pre-process + quality":
    from m5kit.prod2vec import P2VConfig, step_preprocess, step_quality
    config = asdict(P2VConfig(data_dir=str(folder)))
    step_preprocess(config, str(run))
    facts["preprocess_s"] = round(time.perf_counter() - wall, 2)
    facts["preprocess_cpu_s"] = round(time.process_time() - cpu, 2)
    facts["preprocess_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report = step_quality(config, str(run))
    facts["quality"] = {k: report[k] for k in ("rows", "orders", "vocabulary", "pairs_per_epoch", "mean_basket")}
    facts["warnings"] = [w["check"] for w in report["warnings"]]
elif step == "pairs, one epoch":
    import numpy as np
    from m5kit.models.embeddings import Prod2Vec
    rows = np.load(run / "01_preprocess" / "rows.npz")
    orders_, products = rows["order_id"], rows["product_id"]
    _, codes = np.unique(products, return_inverse=True)
    model = Prod2Vec()
    n_pairs = chunks = 0
    for _, _, (targets, contexts) in model._chunks(orders_, codes.astype(np.int32)):
        n_pairs += len(targets)
        chunks += 1
    facts.update(pairs=int(n_pairs), chunks=chunks, chunk_rows=model.chunk_rows)
elif step == "train, one epoch":
    from m5kit.execution.threads import limit_threads
    limit_threads()  # one thread, as on a worker
    import numpy as np
    import pandas as pd
    from m5kit.models.embeddings import Prod2Vec
    rows = np.load(run / "01_preprocess" / "rows.npz")
    baskets = pd.DataFrame({"order_id": rows["order_id"], "product_id": rows["product_id"]})
    model = Prod2Vec(epochs=1, random_state=0).fit(baskets)
    facts.update(pairs=int(model.n_pairs_), vocabulary=len(model.products_), loss=model.history_["loss"],
                 pairs_per_cpu_s=round(model.n_pairs_ / (time.process_time() - cpu)))
else:
    raise SystemExit(f"unknown step {step}")
facts["wall_s"] = round(time.perf_counter() - wall, 2)
facts["cpu_s"] = round(time.process_time() - cpu, 2)
facts["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps(facts))
"""

STEPS = ("generate + write", "load_baskets", "pipeline: pre-process + quality", "pairs, one epoch", "train, one epoch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=3_214_874, help="prior orders (Instacart: 3,214,874)")
    parser.add_argument("--train", action="store_true", help="also time one epoch of Prod2Vec on every row")
    parser.add_argument("--keep", type=Path, default=None, help="write the files here and keep them")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "baskets_size.json")
    parser.add_argument("--step", action="append", choices=STEPS, default=None,
                        help="run only this step (repeatable; the others need --keep with the files)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="m5kit-bench-baskets-"))
    folder = args.keep or work / "data"
    results = {"orders": args.orders, "python": platform.python_version(), "steps": {}}
    try:
        for step in args.step or (STEPS if args.train else STEPS[:-1]):
            if step == "generate + write" and args.keep is not None and (folder / "orders.csv").is_file():
                continue  # kept from an earlier run
            done = subprocess.run([sys.executable, "-c", _CHILD, step, str(args.orders), str(folder), str(work / "run")],
                                  capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{step} failed:\n{done.stderr[-3000:]}")
            results["steps"][step] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{step}: {results['steps'][step]}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
