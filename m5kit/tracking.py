"""Experiment records in MLflow's format: every run, comparable and reproducible.

Every ``m5kit train`` run is recorded in an MLflow tracking store (the
other commands record nothing; :func:`record_run` records any run from
Python): its parameters, the library versions, the machine (cores, memory),
the data fingerprint, the metrics (per-level WRMSSE of the model and of each
baseline, per-group seconds and losses) and the run folder's files as
artifacts. The default store is the folder ``mlruns/`` beside the run folder
(an SQLite database ``mlflow.db`` and the artifacts next to it: MLflow 3 keeps
plain-folder stores in maintenance mode); ``tracking_uri`` points anywhere
MLflow can write. ``mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db``
shows the same records; :func:`list_runs` (``m5kit runs``) lists them side
by side.

MLflow is an extra: ``pip install "m5kit[tracking]"`` (mlflow-skinny).

Examples
--------
>>> from m5kit.tracking import default_uri
>>> default_uri("m5-runs/run").endswith("m5-runs/mlruns/mlflow.db")
True
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from m5kit._checks import whole
from m5kit.errors import ParamError

__all__ = ["available", "default_uri", "check_store", "record_run", "record_train", "list_runs", "machine_info", "EXPERIMENT"]

logger = logging.getLogger(__name__)

EXPERIMENT = "m5kit"
_INSTALL = 'experiment tracking needs MLflow: pip install "m5kit[tracking]"'


def available() -> bool:
    """Whether MLflow can be imported (without importing it).

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    import importlib.util

    return importlib.util.find_spec("mlflow") is not None


def default_uri(run_folder: str | os.PathLike) -> str:
    """The tracking store beside a run folder: ``sqlite:///<parent>/mlruns/mlflow.db``.

    Parameters
    ----------
    run_folder : path
        The run folder (need not exist); ``<parent>`` is its parent, made absolute.

    Returns
    -------
    str
        The store's URI (nothing is created).

    Raises
    ------
    ParamError
        The parent's path holds a '?', which the URI would read as the start
        of its query, or a '%' and two hex digits, which it would read as an
        escaped character (MLflow would keep the runs in another file).
    """
    folder = Path(run_folder).resolve().parent / "mlruns"
    if "?" in str(folder):  # percent-encoding it: SQLAlchemy finds the file, MLflow's artifact folders do not
        raise ParamError(f"no tracking store beside {folder.parent}: the '?' in its path would start the store URI's "
                         "query (MLflow would record elsewhere): give --tracking-uri sqlite:///PATH/mlflow.db "
                         "(PATH without '?')")
    escape = re.search(r"%[0-9A-Fa-f]{2}", str(folder))
    if escape:  # SQLAlchemy decodes it: 'a%41b' is the folder 'aAb'
        raise ParamError(f"no tracking store beside {folder.parent}: the '{escape.group()}' in its path would be read "
                         "as an escaped character of the store URI (MLflow would record elsewhere): give --tracking-uri "
                         f"sqlite:///PATH/mlflow.db (PATH without '{escape.group()}')")
    return f"sqlite:///{folder / 'mlflow.db'}"


def _mlflow():
    try:
        import mlflow
    except ImportError:
        raise ParamError(_INSTALL) from None
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow


def _store_error(uri: str, exc: BaseException) -> ParamError:
    """One line for a tracking store MLflow cannot use (its own messages run to several lines)."""
    said = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0]
    return ParamError(f"cannot use the tracking store {uri!r} ({said}): give --tracking-uri sqlite:///PATH/mlflow.db "
                      "or the http:// address of an MLflow server")


#: Seconds an MLflow server (an http(s):// store) has to answer before it is said to be unreachable.
#: MLflow's own client retries with a growing backoff (MLFLOW_HTTP_REQUEST_MAX_RETRIES): on a port
#: nothing listens on, `m5kit runs` took 4 minutes to say anything (MLflow 3.18).
PROBE_SECONDS = 5.0


def _check_server(uri: str, fix: str = "start it or pass another --tracking-uri", timeout: float | None = None) -> None:
    """One quick request to the MLflow server of an ``http(s)://`` store: one line if nothing answers.

    Any HTTP answer (even an error status, or a TLS handshake MLflow may be set up to
    accept) counts as reachable: what it means is MLflow's to say. Other stores are
    left alone. ``fix`` ends the message; ``timeout`` defaults to :data:`PROBE_SECONDS`.
    """
    if not uri.lower().startswith(("http://", "https://")):
        return
    timeout = PROBE_SECONDS if timeout is None else timeout
    import ssl
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):  # noqa: S310 (http(s) only)
            return
    except urllib.error.HTTPError:  # it answered
        return
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ssl.SSLError):
            return
        reason = exc.reason
    except (OSError, ValueError) as exc:  # a timeout while reading, a reset connection, a malformed address
        reason = exc
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        said = f"no answer within {timeout:g} s"
    else:
        said = (getattr(reason, "strerror", None) or str(reason)).strip() or type(reason).__name__
    raise ParamError(f"cannot reach the MLflow server at {uri} ({said}): {fix}")


def _sqlite_file(uri: str) -> Path | None:
    """The database file of an ``sqlite:///`` store; None for another kind of store."""
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def _text_uri(uri) -> None:
    """A ParamError when ``uri`` is not text (a Path or None was a bare AttributeError from ``uri.lower()``)."""
    if not isinstance(uri, str):
        example = "sqlite:///" + str(Path(uri).resolve() if isinstance(uri, os.PathLike) else Path("mlruns", "mlflow.db"))
        raise ParamError(f"invalid tracking URI {uri!r}: give the store's URI as text, e.g. {example!r} "
                         "(see m5kit.tracking.default_uri)")


def _client(uri: str):
    """An MLflow client of the store ``uri``: MLflow's global store, experiment and active run (the caller's own)
    are left alone (setting them made a caller's run inside a recording unusable)."""
    _mlflow()
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _prepare(uri: str):
    """A client of ``uri`` and the id of its m5kit experiment (folders created; artifacts kept beside an SQLite store)."""
    _text_uri(uri)
    _mlflow()
    _check_server(uri, "start it, or pass another --tracking-uri or --no-track")
    db = _sqlite_file(uri)
    try:
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        client = _client(uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        if experiment is None:
            location = None if db is None else (db.parent / "artifacts").as_uri()
            return client, client.create_experiment(EXPERIMENT, artifact_location=location)
        if experiment.lifecycle_stage == "deleted":  # as MLflow's set_experiment refused it
            raise ValueError(f"the experiment '{EXPERIMENT}' is deleted: restore it, or delete it for good to start anew")
    except Exception as exc:  # MLflow's, SQLAlchemy's and the OS's errors alike
        raise _store_error(uri, exc) from None
    return client, experiment.experiment_id


def check_store(uri: str) -> None:
    """Make sure runs can be recorded in the tracking store ``uri`` (creating it), before a long run.

    Parameters
    ----------
    uri : str
        The tracking store (see :func:`default_uri`).

    Raises
    ------
    ParamError
        MLflow is not installed, or cannot use ``uri`` (a plain folder, a
        file that is not a database, an MLflow server that does not answer
        within :data:`PROBE_SECONDS`, ...): one line naming the store.
    """
    _prepare(uri)


def machine_info() -> dict[str, Any]:
    """Cores and memory of this machine (and the platform).

    Examples
    --------
    >>> machine_info()["cores"] >= 1
    True
    """
    import platform

    info: dict[str, Any] = {"cores": os.cpu_count() or 1, "platform": platform.platform(),
                            "python": platform.python_version()}
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages * size / 2**30, 1)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        pass
    return info


def _flat(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{key}": value for key, value in values.items()}


def record_run(
    kind: str,
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, Any] | None = None,
    artifacts: str | os.PathLike | None = None,
    uri: str,
    name: str | None = None,
) -> str:
    """Record one finished run; returns its MLflow run id.

    Parameters
    ----------
    kind : str
        What ran (``"train"``, ``"tune"``, ``"classify"``...), as the tag ``m5kit.kind``.
    params : mapping
        The run's settings (logged as parameters; values as text, cut at
        MLflow's bound of 6000 characters).
    metrics : mapping, optional
        Numbers to compare runs by (NaN and None are left out; one that is no
        number is a ParamError, before anything is recorded).
    tags : mapping, optional
        Further facts (library versions, machine, data fingerprint...).
    artifacts : path, optional
        A folder whose files are copied into the record (the run folder);
        the model store's group files are left out (they are the bulk and
        stay in the run folder), its manifest is kept.
    uri : str
        The tracking store (see :func:`default_uri`).
    name : str, optional
        The run's name in MLflow (default: the artifacts folder's name).

    Returns
    -------
    str

    Raises
    ------
    ParamError
        ``artifacts`` is no folder (nothing is recorded). MLflow is not
        installed, cannot use ``uri``, or failed while recording
        (a full disk, a server gone down, a name MLflow refuses): one line; the
        half record is removed.
    """
    clean = {}  # checked before the store is touched
    for key, value in (metrics or {}).items():
        if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):  # None, NaN, pd.NA: left out
            continue
        try:
            clean[key] = float(value)
        except (TypeError, ValueError):  # 'abc' was a bare ValueError, a list pd.notna's 'truth value ... is ambiguous'
            raise ParamError(f"invalid metric {key!r} {value!r}: give each metric as a number") from None
    if artifacts is not None and not Path(artifacts).is_dir():  # a typo recorded the run without a word or a file
        said = "is a file" if Path(artifacts).exists() else "does not exist"
        raise ParamError(f"invalid artifacts {artifacts} ({said}): give the folder whose files to record")
    client, experiment_id = _prepare(uri)
    from mlflow.entities import Metric, Param, RunTag

    from m5kit.store import library_versions

    all_tags = {"m5kit.kind": kind, **_flat("version.", library_versions()), **_flat("machine.", machine_info()),
                **dict(tags or {})}
    try:  # MLflow's own bound (6000 characters in MLflow 3): a search space or a long --param list is kept whole
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH as limit
    except ImportError:
        limit = 500  # the bound of old MLflow releases
    run_id = None
    try:
        run_id = client.create_run(experiment_id, tags=_context_tags(),
                                   run_name=name or (Path(artifacts).name if artifacts else kind)).info.run_id
        now = int(time.time() * 1000)
        client.log_batch(run_id, params=[Param(k, str(v)[:limit]) for k, v in params.items()],
                         metrics=[Metric(k, v, now, 0) for k, v in clean.items()],
                         tags=[RunTag(k, str(v)[:5000]) for k, v in all_tags.items()])
        if artifacts is not None:
            _log_folder(client, run_id, Path(artifacts))
        client.set_terminated(run_id, "FINISHED")
    except Exception as exc:  # MLflow's, SQLAlchemy's and the OS's errors alike (a full disk, a server gone down)
        if run_id is not None:  # a half record would be listed beside the whole one recorded again
            try:
                _check_server(uri)  # a server gone down: deleting would wait out MLflow's own retries (minutes) again
                client.delete_run(run_id)
            except Exception:  # noqa: S110 - the store is failing: its error below is the one to say
                pass
        said = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ParamError(f"recording the run in the tracking store {uri!r} failed ({said}): the half record is removed; "
                         "fix the cause and record it again") from None
    except BaseException:  # Ctrl-C: the record ends FAILED (not listed), as MLflow's own runs end
        if run_id is not None:
            with contextlib.suppress(Exception):
                client.set_terminated(run_id, "FAILED")
        raise
    return run_id


def _context_tags() -> dict[str, str]:
    """The tags MLflow gives a run it starts itself (user, source, git commit)."""
    try:
        from mlflow.tracking.context.registry import resolve_tags

        return dict(resolve_tags({}))
    except Exception:  # noqa: BLE001 - a context MLflow cannot read: the run is recorded without them
        return {}


def _log_folder(client, run_id: str, folder: Path) -> None:
    from m5kit.runs import RUN_LOCK
    from m5kit.store import is_temp_file

    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or any(is_temp_file(part) for part in relative.parts):  # a killed report's folder too
            continue
        if relative.parts[0].startswith(RUN_LOCK):  # the lock of the train that is recording it, no output
            continue
        if relative.parts[:2] == ("models", "groups"):
            continue
        client.log_artifact(run_id, str(path), artifact_path=str(relative.parent) if relative.parent != Path(".") else None)


#: Columns of :func:`list_runs`, by the MLflow field they come from.
_COLUMNS = {
    "tags.mlflow.runName": "run",
    "tags.m5kit.kind": "kind",
    "params.model": "model",
    "params.level": "level",
    "params.strategy": "strategy",
    "params.epochs": "epochs",
    "params.data": "data",
    "metrics.wrmsse": "WRMSSE",
    "metrics.wall_seconds": "wall s",
    "start_time": "started",
}


#: Runs of one MLflow search at most (its SEARCH_MAX_RESULTS_THRESHOLD).
_PAGE = 50_000


def list_runs(uri: str, max_runs: int = 50) -> pd.DataFrame:
    """Recorded runs side by side, newest first: run, kind, model, level, strategy, epochs, data, WRMSSE, wall time.

    Parameters
    ----------
    uri : str
        The tracking store (see :func:`default_uri`); an SQLite store that
        does not exist is not created.
    max_runs : int, default=50
        At most this many runs, the newest.

    Returns
    -------
    DataFrame
        Empty when nothing is recorded yet.

    Raises
    ------
    ParamError
        MLflow is not installed, or cannot use ``uri`` (or it is not text);
        ``max_runs`` is not a whole number of at least 1.
    """
    _text_uri(uri)
    max_runs = whole(max_runs, "max_runs")  # MLflow's own refusal blamed the store
    _mlflow()
    db = _sqlite_file(uri)
    if db is not None and not db.exists():
        return pd.DataFrame(columns=list(_COLUMNS.values()))  # MLflow would create an empty database there
    _check_server(uri)
    try:
        client = _client(uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        if experiment is None:
            return pd.DataFrame(columns=list(_COLUMNS.values()))
        # finished records only: one cut off by a kill (RUNNING for ever) or Ctrl-C (FAILED) is half a record
        found, token = [], None
        while len(found) < max_runs:  # in pages: MLflow gives at most 50000 runs per search
            page = client.search_runs([experiment.experiment_id], max_results=min(max_runs - len(found), _PAGE),
                                      order_by=["start_time DESC"], filter_string="attributes.status = 'FINISHED'",
                                      page_token=token)
            found.extend(page)
            token = page.token
            if not token or not page:
                break
    except Exception as exc:  # MLflow's, SQLAlchemy's and the OS's errors alike
        raise _store_error(uri, exc) from None
    if not found:
        return pd.DataFrame(columns=list(_COLUMNS.values()))
    runs = _runs_frame(found)
    frame = pd.DataFrame({label: runs[col] if col in runs else None for col, label in _COLUMNS.items()})
    # --epochs concerns the CNN-LSTM only: a gradient-boosted run's recorded default is no epoch count
    frame.loc[frame["model"].isin(["lightgbm", "xgboost"]), "epochs"] = None
    # as `m5kit train` says it: runs that differ only in --seeds or --pretrain-level are told apart
    for col, said, default in (("params.seeds", "{} seeds", "1"), ("params.pretrain_level", "pretrained at level {}", "None")):
        if col in runs:
            frame["strategy"] = [f"{s}, {said.format(v)}" if pd.notna(s) and pd.notna(v) and v != default else s
                                 for s, v in zip(frame["strategy"], runs[col])]
    # built-in runs of other --items or --seed trained on other data: their scores do not compare
    if "params.items" in runs and "params.seed" in runs:
        from m5kit.runs import DEFAULT_ITEMS

        frame["data"] = [f"built-in ({DEFAULT_ITEMS if n in (None, 'None') else n} items, seed {s})"
                         if d == "built-in" and pd.notna(s) else d
                         for d, n, s in zip(frame["data"], runs["params.items"], runs["params.seed"])]
    frame["started"] = [_local_time(t) for t in pd.to_datetime(frame["started"], utc=True)]
    return frame


def _runs_frame(found) -> pd.DataFrame:
    """Records as MLflow's search_runs frames them: ``params.<name>``, ``tags.<name>`` (None where a record has
    none), ``metrics.<name>`` (NaN) and ``start_time`` (UTC)."""
    rows = [{"start_time": pd.Timestamp(r.info.start_time, unit="ms", tz="UTC"),
             **{f"params.{k}": v for k, v in r.data.params.items()},
             **{f"tags.{k}": v for k, v in r.data.tags.items()},
             **{f"metrics.{k}": v for k, v in r.data.metrics.items()}} for r in found]
    columns = sorted({col for row in rows for col in row})
    return pd.DataFrame({col: pd.Series([row.get(col) for row in rows], dtype=float if col.startswith("metrics.")
                                        else "datetime64[ns, UTC]" if col == "start_time" else object)
                         for col in columns})


def _local_time(stamp) -> str | None:
    """A UTC timestamp as this machine's local time, as ``mlflow ui`` shows it (strftime of the UTC value was
    unlabelled UTC); None for a missing one."""
    import time

    return None if pd.isna(stamp) else time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp.timestamp()))


def record_train(run, result, uri: str) -> str:
    """Record a finished ``m5kit train`` run (:class:`m5kit.runs.Run` and its :class:`~m5kit.runs.TrainResult`).

    Metrics: ``wrmsse`` (the model, all levels), ``wrmsse_level_<L>``, each
    baseline's ``wrmsse_<baseline>``, ``wall_seconds`` (of this attempt only:
    the groups a resumed run loaded from the store, ``groups_resumed``, were
    fitted before it), ``median_group_seconds``, ``groups``, ``groups_fitted``,
    ``mean_loss`` and ``mean_val_loss`` over groups. Tags: the data
    fingerprint (the store's), the skipped and retried groups, and
    ``run_folder`` (the run folder's absolute path: the groups' models stay there).

    A run already recorded in the store as it is (the same command run again
    on a finished run: every group resumed from the model store, the same
    data) is not recorded twice: the id of its record is returned.

    Parameters
    ----------
    run : Run
        The run (its settings become the parameters; its folder's files the
        artifacts, see :func:`record_run`).
    result : TrainResult
        What the training produced (report, scores, seconds, skipped and
        retried groups).
    uri : str
        The tracking store (see :func:`default_uri`).

    Returns
    -------
    str
        The MLflow run id (of the earlier record when the run is already recorded).

    Raises
    ------
    ParamError
        MLflow is not installed, or cannot use ``uri``.
    """
    from dataclasses import asdict

    from m5kit.store import frame_fingerprint

    config = asdict(run.config)
    params = {k: v for k, v in config.items() if k != "params"}
    params.update({k: run.config.trained_with(k) for k in ("epochs", "window")})  # a --param epochs=N sets them
    params.update({f"param.{k}": v for k, v in config["params"].items()})
    params["data"] = config["data_dir"] or "built-in"
    metrics: dict[str, float] = {"wall_seconds": result.wall_seconds, "median_group_seconds": result.median_group_seconds,
                                 "groups": result.n_groups, "groups_fitted": result.n_fitted,
                                 "groups_resumed": result.n_resumed}  # fitted by an earlier, interrupted attempt
    report = result.report
    for column in ("loss", "val_loss", "seconds"):
        if column in report and report[column].notna().any():
            metrics[f"mean_{column}"] = float(report[column].mean())
    if result.scores is not None:
        scores = result.scores.set_index("level")
        model = scores.columns[0]
        metrics["wrmsse"] = float(scores.loc["all", model])
        for level, value in scores[model].items():
            if level != "all":
                metrics[f"wrmsse_level_{level}"] = float(value)
        for name in scores.columns[1:]:
            metrics["wrmsse_" + "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")] = float(scores.loc["all", name])
    tags = {"data.fingerprint": frame_fingerprint(run.data.sales), "skipped": ", ".join(result.skipped) or "none",
            "retried": ", ".join(result.retried) or "none",
            "run_folder": str(Path(run.out).resolve())}  # where the groups' models stay (not copied into the record)
    tags[_TOKEN] = _train_token(run, result, tags["data.fingerprint"])
    recorded = _finished_record(uri, tags[_TOKEN])
    if recorded is not None:  # the same command again on a finished run: every group resumed, nothing new to record
        logger.info("the run in %s is already recorded as MLflow run %s", run.out, recorded)
        return recorded
    return record_run("train", params=params, metrics=metrics, tags=tags, artifacts=run.out, uri=uri)


#: Tag of a train record: its run folder, data and groups' fits (see :func:`record_train`).
_TOKEN = "m5kit.run_token"


def _train_token(run, result, fingerprint: str) -> str:
    """The run folder, its settings, its data and its groups' fits (a resumed group keeps its seconds; a refit one
    does not): the same for a finished run trained again with every group resumed."""
    import hashlib
    import json
    from dataclasses import asdict

    report = result.report
    fits = sorted(zip(report["group"].astype(str), (repr(float(s)) for s in report["seconds"]))) if "seconds" in report else []
    text = json.dumps([str(Path(run.out).resolve()), asdict(run.config), fingerprint, fits, sorted(result.skipped)],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _finished_record(uri: str, token: str) -> str | None:
    """The id of a finished record tagged ``token`` in the store ``uri``, or None."""
    client, experiment_id = _prepare(uri)
    try:
        found = client.search_runs([experiment_id], max_results=1,
                                   filter_string=f"tags.`{_TOKEN}` = '{token}' and attributes.status = 'FINISHED'")
    except Exception as exc:  # MLflow's, SQLAlchemy's and the OS's errors alike
        raise _store_error(uri, exc) from None
    return found[0].info.run_id if found else None
