"""The prod2vec pipeline: from order baskets to product vectors, as named steps on Dask.

Seven steps, each keeping its output in the run folder, so that a run that
failed or was interrupted resumes after the last finished step:

1. ``preprocess``: read the baskets (Instacart's files, or generated ones),
   keep the prior orders' (order, product) rows as arrays;
2. ``quality``: data-quality checks (missing values, rows naming unknown
   products or orders, duplicate (order, product) rows, empty baskets, the
   vocabulary and pair counts). A failed check stops the pipeline with a
   report naming the check, the number of rows and examples; warnings go
   into the run's report;
3. ``branch``: tune, or train with the given hyperparameters;
4. ``tune`` (with tuning): a Bayesian search (:mod:`m5kit.tuning`) over the
   embedding size and learning rate, trials in parallel on the cluster,
   scored by the held-out pair loss;
5. ``analysis`` (with tuning): the trials CSV, best first, and plots;
6. ``train``: fit :class:`~m5kit.models.embeddings.Prod2Vec`;
7. ``extract``: the embedding matrix with product ids and names (CSV and
   Parquet) and each product's nearest neighbours.

The steps run as Dask tasks named ``m5kit_prod2vec-<token>-<step>`` (readable on the
dashboard); the tuning step sends its trials as tasks of their own.

A run holds the file ``prod2vec.lock`` in its folder (its host and process id)
while it runs, so that a second run into the same folder stops at once
instead of overwriting the first one's outputs; the file is removed when the
run ends, however it ends. A lock left by a run that died (killed, or the
machine restarted) is taken over by the next run when its process is gone
from this host; a lock taken on another host is never taken over: its
message says which file to remove.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from m5kit import _checks
from m5kit.errors import DataError, M5kitError

__all__ = ["STEPS", "P2VConfig", "QualityError", "RunLockedError", "finished_steps", "run_prod2vec"]

logger = logging.getLogger(__name__)

STEPS = ("preprocess", "quality", "branch", "tune", "analysis", "train", "extract")
CONFIG_FILE = "prod2vec.json"
#: Held in the run folder while a run is running (see :func:`_lock`).
LOCK_FILE = "prod2vec.lock"
#: The steps' folders in the run folder (all of them are made again when the data files change).
STEP_DIRS = ("01_preprocess", "02_quality", "04_tune", "05_analysis", "06_train", "07_extract")
#: Settings that change neither the pre-processed data nor its checks (only tuning, training and extraction).
_TRAINING_OPTIONS = ("embedding_dim", "negatives", "lr", "epochs", "batch_size", "tune", "trials", "neighbours")


class QualityError(DataError):
    """A data-quality check failed: the pipeline stopped after pre-processing (its output is kept)."""


class RunLockedError(M5kitError, RuntimeError):
    """Another run is using the run folder (or may be: its lock cannot be checked from this host)."""


@dataclass
class P2VConfig:
    """Settings of a prod2vec run (what makes two runs the same run)."""

    data_dir: str | None = None
    n_orders: int = 100_000
    seed: int = 0
    embedding_dim: int = 100
    negatives: int = 5
    lr: float = 0.025
    epochs: int = 3
    batch_size: int = 1024
    min_count: int = 5
    tune: bool = False
    trials: int = 10
    neighbours: int = 10
    extra: dict = field(default_factory=dict)


# --- the steps (module level: sent to workers) ------------------------------------------

def step_preprocess(config: dict, folder: str) -> str:
    """Read the baskets and keep the (order, product) rows, the known ids and the names."""
    from m5kit.datasets.baskets import load_baskets, make_baskets

    cfg = P2VConfig(**config)
    source = _source(cfg.data_dir)  # before reading: a file changed while it is read counts as changed
    data = load_baskets(cfg.data_dir) if cfg.data_dir else make_baskets(cfg.n_orders, seed=cfg.seed)
    out = Path(folder) / "01_preprocess"
    out.mkdir(parents=True, exist_ok=True)
    prior = data.prior.sort_values("order_id", kind="stable")
    _save_npz(out / "rows.npz", order_id=prior["order_id"].to_numpy(), product_id=prior["product_id"].to_numpy(),
              known_orders=data.orders["order_id"].to_numpy(), known_products=data.products["product_id"].to_numpy(),
              prior_orders=data.orders.loc[data.orders["eval_set"] == "prior", "order_id"].to_numpy())
    _save_json(source, out / "source.json")
    _save_frame(data.products, out / "products.csv")
    return str(out)


def step_quality(config: dict, folder: str) -> dict:
    """Run the data-quality checks; raise :class:`QualityError` naming the first failed check."""
    rows = np.load(Path(folder) / "01_preprocess" / "rows.npz")
    orders, products = rows["order_id"], rows["product_id"]
    failed, warnings = [], []

    def check(name: str, bad: np.ndarray, what: str, fail: bool = True):
        n = int(bad.sum())
        if n:
            examples = [f"order {o} product {p}" for o, p in zip(orders[bad][:3], products[bad][:3])]
            (failed if fail else warnings).append({"check": name, "rows": n, "what": what, "examples": examples})

    check("missing values", np.isnan(orders.astype(float)) | np.isnan(products.astype(float)), "order or product id missing")
    check("unknown products", ~np.isin(products, rows["known_products"]), "rows name a product not in products.csv")
    check("unknown orders", ~np.isin(orders, rows["known_orders"]), "rows name an order not in orders.csv")
    pairs = pd.DataFrame({"o": orders, "p": products})
    check("duplicate rows", pairs.duplicated().to_numpy(), "the same (order, product) row appears twice")
    listed = pd.Series(rows["known_products"])
    twice = listed[listed.duplicated()].unique()
    if len(twice):  # its name would be ambiguous (training stopped on it with pandas' reindex error)
        failed.append({"check": "duplicate products", "rows": int(listed.duplicated().sum()),
                       "what": "products.csv has more than one row for a product_id",
                       "examples": [f"product {p}" for p in twice[:3]]})
    sizes = pairs.groupby("o").size()
    # Instacart's train and test orders have their products in other files (or none): only a prior order can be empty
    empty = np.setdiff1d(rows["prior_orders"] if "prior_orders" in rows else rows["known_orders"], orders)
    if len(empty):
        warnings.append({"check": "empty baskets", "rows": len(empty), "what": "orders without any product row",
                         "examples": [f"order {o}" for o in empty[:3]]})
    counts = pairs["p"].value_counts()
    min_count = P2VConfig(**config).min_count
    vocab = int((counts >= min_count).sum())
    report = {"failed": failed, "warnings": warnings, "rows": len(orders), "orders": len(sizes),
              "vocabulary": vocab, "pairs_per_epoch": int((sizes * (sizes - 1)).sum()),
              "mean_basket": float(sizes.mean()) if len(sizes) else 0.0}
    out = Path(folder) / "02_quality"
    _save_json(report, out / "report.json")
    kept = pairs[pairs["p"].isin(counts.index[counts >= min_count])].groupby("o").size()
    if not len(orders):  # not "too small a vocabulary": no --min-count would help
        failed.append({"check": "baskets", "rows": 0, "what": "the baskets file has no rows", "examples": []})
    elif vocab < 2:
        failed.append({"check": "vocabulary", "rows": vocab, "what": "fewer than 2 products reach min_count",
                       "examples": []})
    elif not (kept > 1).any():  # training would stop on it, after this step passed
        failed.append({"check": "pairs", "rows": 0, "what": "no basket holds two products that reach min_count",
                       "examples": []})
    if failed:
        first = failed[0]
        _save_json(report, out / "report.json")
        if first["check"] == "baskets":
            from m5kit.datasets.baskets import BASKET_FILES

            raise QualityError(f"data-quality check 'baskets' failed: {BASKET_FILES['prior'][0]} has no rows; see "
                               f"{out / 'report.json'}. Give its order_id, product_id rows, and run again")
        if first["check"] == "pairs":  # every basket of one product: skip-gram has nothing to learn from
            raise QualityError(
                f"data-quality check 'pairs' failed: none of the {len(sizes)} baskets holds two products bought at "
                f"least min_count={min_count} times, so there is no pair to learn from; see {out / 'report.json'}. "
                f"Give baskets of two or more products{' (or lower --min-count)' if min_count > 1 else ''}, and run again")
        if first["check"] == "vocabulary":  # too few products, not bad rows: the fix is an option or more data
            raise QualityError(
                f"data-quality check 'vocabulary' failed: {vocab} product(s) of {len(counts)} in {len(orders)} rows "
                f"were bought at least min_count={min_count} times, and 2 are needed; see {out / 'report.json'}. "
                "Lower --min-count or give more baskets, and run again")
        raise QualityError(
            f"data-quality check '{first['check']}' failed: {first['rows']} row(s): {first['what']} "
            f"(e.g. {', '.join(first['examples']) or '-'}); see {out / 'report.json'}. The pre-processed data is kept: "
            "fix the files and run the same command again (pre-processing runs again when the files change)")
    return report


def _training_rows(folder: str, holdout: float = 0.0, seed: int = 0):
    rows = np.load(Path(folder) / "01_preprocess" / "rows.npz")
    frame = pd.DataFrame({"order_id": rows["order_id"], "product_id": rows["product_id"]})
    if not holdout:
        return frame, None
    orders = frame["order_id"].unique()
    rng = np.random.default_rng(seed)
    held = set(rng.choice(orders, size=max(1, int(len(orders) * holdout)), replace=False).tolist())
    mask = frame["order_id"].isin(held).to_numpy()
    return frame[~mask], frame[mask]


def step_train(config: dict, folder: str, params: dict) -> str:
    """Fit Prod2Vec on every basket with ``params`` over the configured hyperparameters."""
    cfg = P2VConfig(**config)
    rows, _ = _training_rows(folder)
    products = pd.read_csv(Path(folder) / "01_preprocess" / "products.csv")
    model = _model(cfg, params).fit(rows, products=products)
    out = Path(folder) / "06_train"
    out.mkdir(parents=True, exist_ok=True)
    from m5kit.store import atomic_write

    with atomic_write(out / "model.pkl") as fh:
        pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
    _save_json({"params": params, "history": model.history_, "n_pairs": model.n_pairs_}, out / "train.json")
    return str(out)


def _model(cfg: P2VConfig, params: dict):
    from m5kit.models.embeddings import Prod2Vec

    base = {"embedding_dim": cfg.embedding_dim, "negatives": cfg.negatives, "lr": cfg.lr, "epochs": cfg.epochs,
            "batch_size": cfg.batch_size, "min_count": cfg.min_count, "random_state": cfg.seed}
    return Prod2Vec(**{**base, **params})


def heldout_objective(data: dict, params: dict) -> float:
    """Tuning objective: the held-out pair loss (lower is better) after fitting on the other baskets."""
    cfg = P2VConfig(**data["config"])
    model = _model(cfg, params).fit(data["train"])
    return model.pair_loss(data["held"], random_state=cfg.seed)


def step_extract(config: dict, folder: str) -> dict:
    """The embedding matrix (CSV and Parquet) and each product's nearest neighbours (CSV)."""
    cfg = P2VConfig(**config)
    with open(Path(folder) / "06_train" / "model.pkl", "rb") as fh:
        model = pickle.load(fh)
    out = Path(folder) / "07_extract"
    out.mkdir(parents=True, exist_ok=True)
    table = model.embeddings_.reset_index()
    _save_frame(table, out / "embeddings.csv")
    written = {"csv": str(out / "embeddings.csv")}
    try:
        from m5kit.store import atomic_write

        with atomic_write(out / "embeddings.parquet") as fh:
            table.to_parquet(fh, index=False)
        written["parquet"] = str(out / "embeddings.parquet")
    except ImportError:
        logger.warning("no Parquet file: pyarrow is not installed (pip install pyarrow)")
    k = min(cfg.neighbours, len(model.products_) - 1)
    nn = model.neighbours(k)
    near = pd.DataFrame({"product_id": np.repeat(model.products_, k), "rank": np.tile(np.arange(1, k + 1), len(nn)),
                         "neighbour_id": model.products_[nn.reshape(-1)]})
    _save_frame(near, out / "neighbours.csv")
    written["neighbours"] = str(out / "neighbours.csv")
    return written


# --- running ----------------------------------------------------------------------------

def _save_json(payload: Any, path: Path) -> None:
    from m5kit.store import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as fh:
        json.dump(payload, fh, indent=1, default=str)


def _save_frame(frame: pd.DataFrame, path: Path) -> None:
    from m5kit.store import atomic_write

    with atomic_write(path, "w") as fh:
        frame.to_csv(fh, index=False)


def _save_npz(path: Path, **arrays) -> None:
    from m5kit.store import atomic_write

    with atomic_write(path, suffix=".npz") as fh:
        np.savez(fh, **arrays)


def _source(data_dir: str | None) -> dict | None:
    """Size and modification time of each data file (None for generated baskets): what pre-processing read."""
    if not data_dir:
        return None
    from m5kit.datasets.baskets import BASKET_FILES
    from m5kit.store import file_stats

    return file_stats(data_dir, (fname for fname, _ in BASKET_FILES.values()))


def _data_changed(folder: Path, config: P2VConfig) -> bool:
    """Whether the data files differ from those the finished pre-processing read (unknown: changed)."""
    if not config.data_dir:  # generated baskets: made from the run's settings alone
        return False
    path = folder / "01_preprocess" / "source.json"
    return not path.exists() or json.loads(path.read_text()) != _source(config.data_dir)


def _done(folder: Path, step: str) -> bool:
    marks = {"preprocess": "01_preprocess/products.csv", "quality": "02_quality/passed.json",
             "tune": "04_tune/best.json", "analysis": "05_analysis/trials.csv", "train": "06_train/train.json",
             "extract": "07_extract/neighbours.csv"}
    return (folder / marks[step]).exists()


def finished_steps(out: str | os.PathLike) -> list[str]:
    """The steps whose output the run folder ``out`` keeps (what a run started again there skips).

    Parameters
    ----------
    out : path
        A run folder of :func:`run_prod2vec`.

    Returns
    -------
    list of str
        Names of :data:`STEPS`, in their order (``branch`` has no output).

    Examples
    --------
    >>> finished_steps("no-such-run")
    []
    """
    return [step for step in STEPS if step != "branch" and _done(Path(out), step)]


def _clear_steps(folder: Path) -> None:
    """Remove every step's output (the run's options stay): the next run makes them all again."""
    for name in STEP_DIRS:
        shutil.rmtree(folder / name, ignore_errors=True)


def _read_config(path: Path) -> dict:
    """The settings a run folder's ``prod2vec.json`` holds; a file that is not a run's settings is a DataError."""
    try:
        theirs = json.loads(path.read_text())
        reason = None if isinstance(theirs, dict) else f"a JSON {type(theirs).__name__}, not an object"
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # emptied, edited, not ours
        theirs, reason = None, (exc.strerror if isinstance(exc, OSError) and exc.strerror else "not JSON")
    if reason:
        raise DataError(f"{path} is not a prod2vec run's settings file ({reason}), so {path.parent} holds no run to "
                        "resume: choose another --out, or remove that folder to start a new run there")
    return theirs


def _unused(key: str, mine: dict, theirs: dict) -> bool:
    """Whether setting ``key`` plays no part in either run: --trials without --tune, --orders with a --data-dir."""
    if key == "trials":
        return not mine.get("tune") and not theirs.get("tune")
    if key == "n_orders":
        return bool(mine.get("data_dir")) and mine.get("data_dir") == theirs.get("data_dir")
    return False


def _claim(folder: Path, config: P2VConfig) -> None:
    """Start or resume a run in ``folder``: a different run's folder is refused."""
    path = folder / CONFIG_FILE
    mine = asdict(config)
    if path.exists():
        theirs = _read_config(path)
        diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k) and not _unused(k, mine, theirs))
        if diff:
            if (folder / "04_tune").exists() or any(_done(folder, step) for step in ("train", "extract")):
                raise DataError(f"{folder} holds a different prod2vec run (differs in {', '.join(diff)}): "
                                "choose another --out")
            # That run stopped before it tuned or trained (a wrong --data-dir, too high a --min-count, a loss that
            # diverged at too high an --lr): it has nothing to keep, and the command that corrects it takes its
            # folder over, keeping the data's pre-processing and checks when only the training options changed.
            if _done(folder, "quality") and set(diff) <= set(_TRAINING_OPTIONS):
                logger.warning("%s held a prod2vec run that stopped before training; running again with the new %s "
                               "(its pre-processed data and checks are kept)", folder, ", ".join(diff))
                for name in STEP_DIRS[2:]:
                    shutil.rmtree(folder / name, ignore_errors=True)
            else:
                logger.warning("%s held a prod2vec run that stopped before training; running again with the new %s",
                               folder, ", ".join(diff))
                _clear_steps(folder)
            _save_json(mine, path)
        return
    if any(not p.name.startswith(LOCK_FILE) for p in folder.iterdir()):  # the lock is this run's own
        raise DataError(f"output folder {folder} is not empty and holds no prod2vec run: choose a new or empty folder")
    try:
        _save_json(mine, path)
    except OSError as exc:  # a parent that is a file, no permission, a full disk
        raise DataError(f"cannot create the output folder {folder} ({exc.strerror or type(exc).__name__}): "
                        "choose another --out") from None


# --- the run folder's lock --------------------------------------------------------------

def _boot_id() -> str | None:
    """This boot of the machine (Linux), to tell a lock from before a restart; None elsewhere."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _started(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), to tell a reused pid; None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[19])  # field 22, after the name in parentheses
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (one of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # cannot tell: assume it runs
        return True
    return True


def _read_lock(path: Path) -> dict | None:
    """The lock's record; None if there is no lock, {} if it cannot be read."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    ok = isinstance(record, dict) and isinstance(record.get("pid"), int) and isinstance(record.get("host"), str)
    return record if ok else {}


def _gone(record: dict) -> bool:
    """Whether the run that holds the lock ``record`` is certainly no longer running (checked on its own host)."""
    if record.get("host") != socket.gethostname():
        return False
    boot = _boot_id()
    if record.get("boot_id") and boot and record["boot_id"] != boot:  # taken before the machine restarted
        return True
    if not _alive(record["pid"]):
        return True
    started = _started(record["pid"])  # the pid is alive, but is it still that run's process?
    return record.get("started") is not None and started is not None and started != record["started"]


def _create_lock(path: Path, record: dict) -> bool:
    """Create the lock file holding ``record`` if there is none (atomically); whether it was created.

    The record is written to a file of this process's own and then linked to
    the lock's name, which fails if the lock exists: another run never reads a
    half-written lock. Where the file system has no links, ``O_CREAT | O_EXCL``.
    """
    text = json.dumps(record, indent=1).encode()
    own = path.with_name(f"{LOCK_FILE}.{record['token']}")
    try:
        with open(own, "wb") as fh:
            fh.write(text)
        os.link(own, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # no hard links here (some network and FAT file systems)
        pass
    finally:
        own.unlink(missing_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


def _remove_stale(path: Path, record: dict) -> bool:
    """Remove the stale lock ``record`` if it is still the lock; whether it was.

    It is first moved aside: of two runs taking over the same stale lock at
    once, the second would otherwise remove the lock that the first one has
    just made. A lock that is no longer ``record`` is put back.
    """
    aside = path.with_name(f"{LOCK_FILE}.{uuid.uuid4().hex}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    try:
        if _read_lock(aside) == record:
            return True
        try:
            os.link(aside, path)
        except OSError:
            pass
        return False
    finally:
        aside.unlink(missing_ok=True)


def _describe(record: dict) -> str:
    since = f", since {record['time']}" if record.get("time") else ""
    return f"process {record.get('pid')} on {record.get('host')}{since}"


def _lock(folder: Path) -> dict:
    """Take the run folder's lock: a run already using ``folder`` is a :class:`RunLockedError`.

    A lock whose run is gone (its process no longer runs on this host, or the
    machine restarted since) is taken over. Returns the lock's record, for
    :func:`_unlock`.
    """
    path = folder / LOCK_FILE
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "boot_id": _boot_id(), "started": _started(os.getpid()),
            "time": time.strftime("%Y-%m-%d %H:%M:%S"), "token": uuid.uuid4().hex}
    for _ in range(5):  # another run may take or release the lock between two looks
        try:
            if _create_lock(path, mine):
                return mine
        except OSError as exc:  # no permission, a full disk
            raise DataError(f"cannot write the lock file {path} ({exc.strerror or type(exc).__name__}): "
                            "choose another --out") from None
        theirs = _read_lock(path)
        if theirs is None:  # released just now
            continue
        if not theirs:
            raise RunLockedError(f"{folder} holds a prod2vec lock file that cannot be read ({path}): if no other run "
                                 f"is using the folder, remove {path} and run again, or pass another --out")
        if theirs.get("host") != socket.gethostname():
            raise RunLockedError(f"{folder} is locked by a prod2vec run on another host ({_describe(theirs)}), which "
                                 f"cannot be checked from here: wait for it or pass another --out; if that run is no "
                                 f"longer running, remove {path} and run again")
        if not _gone(theirs):
            raise RunLockedError(f"{folder} is in use by another prod2vec run ({_describe(theirs)}): wait for it or "
                                 "pass another --out")
        if _remove_stale(path, theirs):
            logger.warning("%s held the lock of a prod2vec run that is no longer running (%s): taking it over",
                           folder, _describe(theirs))
    raise RunLockedError(f"{folder} is in use by another prod2vec run (its lock keeps changing): wait for it or "
                         "pass another --out")


def _unlock(folder: Path, record: dict) -> None:
    """Remove the lock ``record`` took (and not one that another run has taken since)."""
    path = folder / LOCK_FILE
    if _read_lock(path) == record:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # not to hide the run's own error: the next run on this host takes the lock over
            logger.warning("could not remove the lock %s (%s)", path, exc.strerror or type(exc).__name__)


def run_prod2vec(config: P2VConfig, out: str | os.PathLike, *, client: Any = None, n_workers: int | None = None,
                 scheduler: str | None = None, n_parallel: int | None = None, progress: bool = False) -> dict:
    """Run (or resume) the seven steps; returns what each step produced.

    Parameters
    ----------
    config : P2VConfig
    out : path
        The run folder; the same command again resumes after the last finished step.
    client, n_workers, scheduler
        Where the steps and the trials run (none: in this process).
    n_parallel : int, optional
        Trials in flight during tuning (default: 2).
    progress : bool
        Progress bar of the tuning trials.

    Returns
    -------
    dict
        ``steps`` (which ran now, which were already done), ``quality`` (the
        report), ``best`` (the hyperparameters trained with), ``files``.

    Raises
    ------
    QualityError
        A data-quality check failed (the pre-processed data is kept).
    RunLockedError
        Another run is using ``out`` (its folder's ``prod2vec.lock``); nothing was changed.
    """
    _checks.whole(config.trials, "number of trials")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"output folder {folder} is a file: choose a new or empty folder for --out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a parent that is a file, no permission, a full disk
        raise DataError(f"cannot create the output folder {folder} ({exc.strerror or type(exc).__name__}): "
                        "choose another --out") from None
    lock = _lock(folder)
    try:
        return _run(folder, config, client, n_workers, scheduler, n_parallel, progress)
    finally:  # however the run ends (done, an error, Ctrl-C): a killed run's lock is taken over by the next run
        _unlock(folder, lock)


def _run(folder: Path, config: P2VConfig, client, n_workers, scheduler, n_parallel, progress) -> dict:
    """The steps of :func:`run_prod2vec`, in its folder (locked)."""
    _claim(folder, config)
    cfg = asdict(config)
    ran, skipped = [], []
    if _done(folder, "preprocess") and _data_changed(folder, config):
        logger.warning("the data files in %s changed since %s was pre-processed: every step runs again",
                       config.data_dir, folder)
        _clear_steps(folder)

    def run_step(step, func, *args):
        if _done(folder, step):
            skipped.append(step)
            return None
        ran.append(step)
        return _run_task(step, func, args, client, n_workers, scheduler)

    run_step("preprocess", step_preprocess, cfg, str(folder))
    if not _done(folder, "quality"):
        ran.append("quality")
        report = _run_task("quality", step_quality, (cfg, str(folder)), client, n_workers, scheduler)
        _save_json(report, folder / "02_quality" / "passed.json")
    else:
        skipped.append("quality")
    quality = json.loads((folder / "02_quality" / "report.json").read_text())
    ran.append("branch")
    best: dict = {}
    if config.tune:
        best = _tune(folder, config, client, n_workers, scheduler, n_parallel or 2, progress, ran, skipped)
    run_step("train", step_train, cfg, str(folder), best)
    files = run_step("extract", step_extract, cfg, str(folder))
    if files is None:  # extracted before: the files that step wrote (no Parquet file without pyarrow)
        written = {"csv": "embeddings.csv", "parquet": "embeddings.parquet", "neighbours": "neighbours.csv"}
        files = {k: str(folder / "07_extract" / name) for k, name in written.items()
                 if k != "parquet" or (folder / "07_extract" / name).exists()}
    return {"steps": {"ran": ran, "already done": skipped}, "quality": quality, "best": best, "files": files}


def _tune(folder, config, client, n_workers, scheduler, n_parallel, progress, ran, skipped) -> dict:
    from m5kit.tuning import Float, Int, tune, write_analysis

    best_file = folder / "04_tune" / "best.json"
    if best_file.exists():
        skipped.append("tune")
    else:
        ran.append("tune")
        train, held = _training_rows(str(folder), holdout=0.1, seed=config.seed)
        space = {"embedding_dim": Int(100, 500, log=True), "lr": Float(5e-3, 1e-1, log=True)}
        result = tune(heldout_objective, {"config": asdict(config), "train": train, "held": held}, space,
                      n_trials=config.trials, n_parallel=n_parallel, out=folder / "04_tune", seed=config.seed,
                      client=client, n_workers=n_workers, scheduler=scheduler, progress=progress)
        # The analysis before best.json (the tuning's mark of done): a run stopped between them tunes again on
        # resume (the study's journal holds the finished trials, so none runs twice) and writes the analysis.
        write_analysis(result, folder / "05_analysis")
        ran.append("analysis")
        _save_json({"params": result.best_params, "heldout_loss": result.best_value}, best_file)
    best = json.loads(best_file.read_text())["params"]
    return {k: (int(v) if k == "embedding_dim" else float(v)) for k, v in best.items()}


def _run_task(step: str, func, args: tuple, client, n_workers, scheduler):
    """Run one step as a Dask task named ``m5kit_prod2vec-<token>-<step>`` (or here, without a cluster)."""
    from m5kit.execution.cluster import Task, open_client, run_tasks

    task = Task(step, func, args[0], args[1:])
    if client is None and scheduler is None and n_workers is None:
        (outcome,) = run_tasks([task], None)
    else:
        with open_client(n_workers, scheduler, client) as cl:
            (outcome,) = run_tasks([task], cl, prefix="prod2vec", retries=1)
    if not outcome.ok:
        raise outcome.error
    return outcome.result
