"""What a group costs besides its epochs, by phase, and m5kit's fit against the same network trained by
Keras' own ``Model.fit`` (the "bare Keras" reference)."""

from __future__ import annotations

import pickle
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from m5kit.bench._common import (
    CpuClock,
    level_data,
    rotate,
    split_groups,
    wait_for_quiet,
)
from m5kit.bench.report import markdown_table, verdict
from m5kit.errors import ParamError
from m5kit.execution.threads import limit_threads

__all__ = ["fixed_cost"]

HEADING = "Fixed cost of a group"
#: Packages of the ``bench`` extra this benchmark imports.
PACKAGES = ("psutil",)

_PHASE_LOG: list[tuple[str, float]] = []
_CLOCK_CLASS = None


def _phase_clock():
    """A Keras callback class that stamps the training phases into ``_PHASE_LOG``."""
    global _CLOCK_CLASS
    if _CLOCK_CLASS is None:
        import keras

        class PhaseClock(keras.callbacks.Callback):
            def _stamp(self, name):
                _PHASE_LOG.append((name, time.perf_counter()))

            def on_train_begin(self, logs=None):
                self._first = True
                self._stamp("train_begin")

            def on_train_batch_end(self, batch, logs=None):
                if self._first:
                    self._first = False
                    self._stamp("first_batch")

            def on_epoch_end(self, epoch, logs=None):
                self._stamp(f"epoch_end_{epoch}")

            def on_train_end(self, logs=None):
                self._stamp("train_end")

        _CLOCK_CLASS = PhaseClock
    return _CLOCK_CLASS


# --- the reference: m5kit's own network, trained by Keras' Model.fit ----------------------------------
def _keras_network(X, y, seed: int, jit_compile: bool | str):
    """The default CNN-LSTM from m5kit's builder (its defaults: Adam 5e-3 clipped, MSE, RMSE)."""
    from m5kit.models import build_cnn_lstm

    n_out = 1 if y.ndim == 1 else y.shape[1]
    return build_cnn_lstm(seed=seed, jit_compile=jit_compile, meta={"X_shape_": X.shape, "n_outputs_": n_out})


def _keras_fit(model, X, y, epochs: int, settings: dict) -> None:
    """``Model.fit`` with the wrapper's batch size, hold-out (the last fraction) and early stopping."""
    import keras

    patience = settings["patience"]
    stop = [] if patience is None else [keras.callbacks.EarlyStopping("val_loss", patience=int(patience),
                                                                      restore_best_weights=True)]
    model.fit(X, y, epochs=epochs, batch_size=settings["batch_size"], validation_split=settings["validation_split"],
              shuffle=True, verbose=0, callbacks=stop)


def _bare_keras_fit(X, y, epochs: int, seed: int, settings: dict, matched: bool = False):
    """A fresh network per group, trained by ``Model.fit`` as a hand-written Keras script would.

    With Keras' default ``jit_compile="auto"`` (XLA on TensorFlow), or
    ``matched`` to m5kit's ``jit_compile=False``. Clears Keras' session and
    sets the global seed first, as such a script does.
    """
    import keras

    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(seed)
    model = _keras_network(X, y, seed, jit_compile=False if matched else "auto")
    _keras_fit(model, X, y, epochs, settings)
    return model


_REUSED: dict[tuple, tuple] = {}


def _bare_keras_reused_fit(X, y, epochs: int, seed: int, settings: dict):
    """The same fit on a network built and compiled once per process and input shape.

    Each group resets the weights (to the first build's initial values) and
    the optimizer's state, so the traced train and test steps are reused:
    what a worker could do instead of rebuilding the model per group.
    """
    import keras

    key = (tuple(X.shape[1:]), 1 if y.ndim == 1 else y.shape[1])
    if key not in _REUSED:
        model = _keras_network(X, y, seed, jit_compile=False)
        _REUSED[key] = (model, model.get_weights())
    model, initial = _REUSED[key]
    model.set_weights(initial)
    for v in model.optimizer.variables:
        v.assign(np.zeros(v.shape, dtype=v.dtype))
    keras.utils.set_random_seed(seed)
    _keras_fit(model, X, y, epochs, settings)
    return model


def fixed_cost(
    level: int = 11, n_items: int = 4, n_days: int = 1000,  # the generated data's level and size
    epochs: int = 3,
    n_groups: int = 6,
    seed: int = 0,
    quiet: float | None = 0.25,
) -> dict[str, pd.DataFrame]:
    """What a group costs besides its epochs, and m5kit's fit against bare Keras.

    In this process, on one thread, after one warm-up fit (reported as
    ``first_fit_in_process``): each of ``n_groups`` groups is fitted with
    :func:`m5kit.grouped.fit_group` at 1 and at ``epochs`` epochs (rotating
    order); then, in a second pass, by the same network (m5kit's
    :func:`~m5kit.models.build_cnn_lstm` with its defaults) trained by Keras'
    own ``Model.fit`` on the same windows, epochs, batch, hold-out and early
    stopping: once with Keras' ``jit_compile="auto"``, once with m5kit's
    ``jit_compile=False``; then, in a third pass, by that network built once
    per process and reused with reset weights and optimizer. The passes are
    apart because the hand-written fits clear Keras' session and set
    TensorFlow's global seed, which empties TensorFlow's function caches (an
    m5kit fit right after one would trace again, which never happens on a
    worker). The fixed cost is ``t(1 epoch) - per-epoch time``, the per-epoch
    time being the slope between the 1- and the ``epochs``-epoch fit. Phases
    of the 1-epoch fit are stamped by a Keras callback; what travels (the
    group's frame out, the fitted result back) is pickled and timed too.

    Returns
    -------
    dict of DataFrame
        ``fixed_cost_groups`` (one row per group) and ``fixed_cost_summary``
        (medians, one row per quantity).

    Examples
    --------
    >>> tables = fixed_cost(n_items=1, n_days=150, epochs=2, n_groups=1, quiet=None)  # doctest: +SKIP
    """
    from m5kit.grouped import fit_group, group_seed

    limit_threads(force=True)
    _, long, template = level_data(level, n_items, n_days, seed, epochs=epochs)
    est, win = template.estimator, template.windower
    settings = est.get_params()
    parts = list(split_groups(long).items())
    if n_groups > len(parts) - 1:  # the few there were were measured without a word
        raise ParamError(f"{n_groups} groups to measure but the data of {n_items} item(s) has {len(parts) - 1} "
                         f"level-{level} groups besides the one fitted first to warm up: give --groups "
                         f"{len(parts) - 1} at most, or more --items")
    chosen = parts[1 : n_groups + 1]
    start = time.perf_counter()
    fit_group(parts[0][1], win, est, 0, None)
    first = time.perf_counter() - start
    rows = [_m5kit_pass(name, frame, win, est, group_seed(seed, name), g, first, quiet)
            for g, (name, frame) in enumerate(chosen)]
    for g, (row, (name, frame)) in enumerate(zip(rows, chosen)):
        wait_for_quiet(quiet)
        for step in rotate(["bare", "bare_matched"], g):
            t0 = time.perf_counter()
            X, y = clone(win).fit(frame).make_training_data(frame)
            model = _bare_keras_fit(X, y, epochs, group_seed(seed, name), settings, matched=step == "bare_matched")
            row["bare_keras_seconds" if step == "bare" else "bare_keras_matched_seconds"] = time.perf_counter() - t0
            row["bare_epochs_run"] = len(model.history.history.get("loss", []))
    for row in rows:
        span = max(row["epochs_run"] - 1, 1)
        row["per_epoch_s"] = (row["seconds_k_epochs"] - row["seconds_1_epoch"]) / span
        row["fixed_s"] = row["seconds_1_epoch"] - row["per_epoch_s"]
        row["m5kit_vs_bare"] = row["seconds_k_epochs"] / row["bare_keras_seconds"]
        row["m5kit_vs_bare_matched"] = row["seconds_k_epochs"] / row["bare_keras_matched_seconds"]
    # One network per process, reused with reset weights: its own pass, with no other Keras work in between.
    X0, y0 = clone(win).fit(parts[0][1]).make_training_data(parts[0][1])
    _bare_keras_reused_fit(X0, y0, 1, 0, settings)  # builds the reused network once
    for row, (name, frame) in zip(rows, chosen):
        wait_for_quiet(quiet)
        X, y = clone(win).fit(frame).make_training_data(frame)
        for k in (1, epochs):
            t0 = time.perf_counter()
            _bare_keras_reused_fit(X, y, k, group_seed(seed, name), settings)
            row[f"reused_model_seconds_{'1' if k == 1 else 'k'}"] = time.perf_counter() - t0
        reused_epoch = (row["reused_model_seconds_k"] - row["reused_model_seconds_1"]) / max(row["epochs_run"] - 1, 1)
        row["reused_model_fixed_s"] = row["reused_model_seconds_1"] - reused_epoch
    frame = pd.DataFrame(rows)
    numeric = frame.drop(columns=["group"]).median()
    summary = pd.DataFrame({"quantity": numeric.index, "median": numeric.to_numpy()})
    return {"fixed_cost_groups": frame, "fixed_cost_summary": summary}


def _m5kit_pass(name, frame, win, est, seed, g, first, quiet) -> dict[str, Any]:
    """One group through m5kit's fit, at 1 epoch (with its phases) and at the template's epochs."""
    from m5kit.grouped import fit_group

    wait_for_quiet(quiet)
    clock = CpuClock()
    row: dict[str, Any] = {"group": name, "first_fit_in_process": first}
    for step in rotate(["one", "many"], g):
        if step == "one":
            _PHASE_LOG.clear()
            t0 = time.perf_counter()
            res = fit_group(frame, win, clone(est).set_params(epochs=1, callbacks=[_phase_clock()]), seed, None)
            t_end = time.perf_counter()
            row.update(_phases(t0, t_end, res))
            row["seconds_1_epoch"] = t_end - t0
            t0 = time.perf_counter()
            row["frame_mb"] = len(pickle.dumps(frame, protocol=5)) / 1e6
            row["frame_pickle_s"] = time.perf_counter() - t0
        else:
            t0 = time.perf_counter()
            res = fit_group(frame, win, est, seed, None)
            row["seconds_k_epochs"], row["epochs_run"] = time.perf_counter() - t0, res["epochs"]
            row["n_windows"] = res["n_windows"]
            t0 = time.perf_counter()
            blob = pickle.dumps(res, protocol=5)  # what travels back to the client
            row["result_pickle_s"], row["result_mb"] = time.perf_counter() - t0, len(blob) / 1e6
    row["other_cores"] = clock.foreign_cores()
    return row


def _phases(t0: float, t_end: float, res: dict) -> dict[str, float]:
    """Seconds of each phase of a 1-epoch fit, from the callback's stamps."""
    stamps = dict(_PHASE_LOG)
    begin, first = stamps.get("train_begin", t0), stamps.get("first_batch", t0)
    epoch0, train_end = stamps.get("epoch_end_0", first), stamps.get("train_end", t_end)
    prepare = res["prepare_seconds"]
    return {
        "phase_windowing_s": prepare,
        "phase_build_compile_s": begin - t0 - prepare,
        "phase_first_step_s": first - begin,
        "phase_rest_of_epoch_s": epoch0 - first,
        "phase_after_training_s": t_end - train_end + (train_end - epoch0),
    }


def render(t: dict[str, pd.DataFrame]) -> str:
    """The markdown of the fixed-cost section."""
    s = t["fixed_cost_summary"]
    q = dict(zip(s["quantity"], s["median"]))
    text = [markdown_table(s), "",
            f"Target: fixed cost of a group <= 0.5 s (median): {q['fixed_s']:.2f} s, {verdict(q['fixed_s'] <= 0.5)}.",
            f"Target: m5kit's per-group fit within 10% of the same Keras fit by hand: "
            f"{q['m5kit_vs_bare_matched']:.3f}x the network from m5kit's builder trained by Keras' Model.fit with "
            f"m5kit's jit_compile=False; {q['m5kit_vs_bare']:.3f}x with Keras' jit_compile=\"auto\", "
            f"{verdict(q['m5kit_vs_bare_matched'] <= 1.10)}."]
    return "\n".join(text)
