"""Module-level objectives for tests/test_tuning.py (sent to Dask workers, so importable by name)."""

from __future__ import annotations


def quadratic(data, params):
    """(x - target)^2 + n: minimum at x = target, n = 0."""
    return (params["x"] - data["target"]) ** 2 + params.get("n", 0)


def fails_when_negative(data, params):
    """Raises for x < 0: a trial's own error."""
    if params["x"] < 0:
        raise ValueError(f"x={params['x']:.2f} is negative")
    return params["x"]


def always_fails(data, params):
    """Every trial raises."""
    raise RuntimeError("broken objective")


def epochs(data, params, trial=None):
    """A training of data["epochs"] epochs (each sleeps data["sleep"] s) whose loss is x * (1 + 1 / (epoch + 1)).

    Reports the loss after each epoch when the search gives a trial reporter;
    the epochs it ran are in the trials table's ``steps``.
    """
    import time

    loss = None
    for epoch in range(data["epochs"]):
        time.sleep(data.get("sleep", 0.0))
        loss = params["x"] * (1 + 1 / (epoch + 1))
        if trial is not None:
            trial.report(loss, epoch)
    return loss


def keras_fit(data, params, trial=None):
    """The last val_loss of a tiny CNN-LSTM at params["learning_rate"], reporting each epoch through a Keras callback."""
    from m5kit.models import CNNLSTMRegressor

    reg = CNNLSTMRegressor(epochs=data["epochs"], batch_size=32, patience=None, monitor=False, model__conv_filters=4,
                           model__lstm_units=4, model__learning_rate=params["learning_rate"], random_state=0,
                           callbacks=None if trial is None else [trial.keras_callback()])
    reg.fit(data["X"], data["y"])
    return reg.history_["val_loss"][-1]
