"""Accuracy and training time of m5kit's InceptionTime and LSTM-FCN on real UCR sets.

The UCR sets come from inside aeon's wheel (``aeon/datasets/data/<name>/<name>_{TRAIN,TEST}.ts``),
read straight from the zip: aeon is neither installed nor imported, so its
dependency pins cannot change this environment. Get the wheel with::

    pip download aeon==1.6.0 --no-deps -d /tmp/aeonwhl

Usage::

    python benchmarks/bench_classifiers.py --wheel /tmp/aeonwhl/aeon-1.6.0-py3-none-any.whl \\
        --sets ItalyPowerDemand --model inception-time --epochs 100

Prints the command, the machine and one line per (set, model): test
accuracy against the published figure, seconds, seconds per network-epoch;
writes ``benchmarks/results/classifiers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

#: Published test accuracies (InceptionTime: Ismail Fawaz et al. 2020; LSTM-FCN: Karim et al. 2018).
PUBLISHED = {
    "inception-time": {"GunPoint": 1.000, "ArrowHead": 0.846, "ItalyPowerDemand": 0.965, "Coffee": 1.000},
    "lstm-fcn": {"GunPoint": 1.000, "ArrowHead": 0.897, "ItalyPowerDemand": 0.962, "Coffee": 1.000},
}


def read_ts(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a univariate, equal-length ``.ts`` file: ``@`` header lines, then ``v1,v2,...:label`` rows."""
    X, y = [], []
    data = False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not data:
            data = line.lower().startswith("@data")
            continue
        values, label = line.rsplit(":", 1)
        X.append([float(v) for v in values.split(",")])
        y.append(label)
    return np.asarray(X, dtype=np.float32), np.asarray(y)


def load_set(wheel: Path, name: str):
    with zipfile.ZipFile(wheel) as zf:
        train = read_ts(zf.read(f"aeon/datasets/data/{name}/{name}_TRAIN.ts").decode())
        test = read_ts(zf.read(f"aeon/datasets/data/{name}/{name}_TEST.ts").decode())
    return train, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True)
    parser.add_argument("--sets", nargs="+", default=["ItalyPowerDemand"])
    parser.add_argument("--model", choices=("inception-time", "lstm-fcn"), default="inception-time")
    parser.add_argument("--epochs", type=int, default=None, help="default: the estimator's (100 / 2000)")
    parser.add_argument("--models", type=int, default=None, help="InceptionTime networks (default 5)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the estimator's (64 / 128)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "classifiers.json")
    args = parser.parse_args()

    from m5kit.execution.threads import limit_threads

    limit_threads()
    import keras
    import tensorflow as tf

    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier

    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, python {platform.python_version()}, "
          f"tensorflow {tf.__version__}, keras {keras.__version__}")
    rows = []
    for name in args.sets:
        (X, y), (Xt, yt) = load_set(args.wheel, name)
        params = {"random_state": args.seed, "n_workers": args.workers}
        if args.epochs:
            params["epochs"] = args.epochs
        if args.batch_size:
            params["batch_size"] = args.batch_size
        if args.model == "inception-time":
            if args.models:
                params["models"] = args.models
            clf = InceptionTimeClassifier(**params)
        else:
            clf = LSTMFCNClassifier(**params)
        start = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - start
        accuracy = clf.score(Xt, yt)
        published = PUBLISHED[args.model].get(name)
        per = seconds / (len(clf.members_) * clf.n_epochs_)
        row = {"set": name, "model": args.model, "train": len(X), "test": len(Xt), "length": X.shape[1],
               "networks": len(clf.members_), "batch_size": clf.batch_size,
               "train_accuracy": round(clf.history_["train_accuracy"][-1], 4), "epochs": clf.n_epochs_, "workers": args.workers,
               "accuracy": round(accuracy, 4), "published": published, "seconds": round(seconds, 1),
               "seconds_per_network_epoch": round(per, 4)}
        rows.append(row)
        print(f"{name:18s} {args.model:15s} accuracy {accuracy:.3f} (published {published}) "
              f"{seconds:.1f} s, {per * 1e3:.0f} ms per network-epoch, {len(clf.members_)} x {clf.n_epochs_} epochs")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(args.out.read_text()) if args.out.exists() else []
    args.out.write_text(json.dumps(existing + rows, indent=2))


if __name__ == "__main__":
    main()
