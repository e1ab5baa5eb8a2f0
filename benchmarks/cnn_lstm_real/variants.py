"""Windower variants for the CNN-LSTM accuracy experiments (not part of the package).

Importable by Dask workers (they unpickle these classes): keep PYTHONPATH=<worktree>:<worktree>/experiments.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from m5kit._schema import ID
from m5kit.transformers.windows import Windower, _grid


def _recent_scale(grid, days):
    """Each series' mean over its last ``days`` days with known sales (1 when not positive)."""
    ok = grid.ok
    # rank of each ok day counted from the end of the series
    from_end = np.cumsum(ok[:, ::-1], axis=1)[:, ::-1]
    use = ok & (from_end <= days)
    total = np.where(use, grid.sales, 0.0).sum(axis=1, dtype=np.float64)
    n = use.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
    return np.where(np.isfinite(mean) & (mean > 0), mean, 1.0)


class ScaleWindower(Windower):
    """Windower whose scale is the mean of the last ``scale_days`` known days (None: whole history)."""

    def __init__(self, window=28, horizon=1, features=None, stride=1, max_windows=None, random_state=0,
                 scaling="series", scale_days=None):
        super().__init__(window=window, horizon=horizon, features=features, stride=stride,
                         max_windows=max_windows, random_state=random_state, scaling=scaling)
        self.scale_days = scale_days

    def fit(self, X, y=None):
        super().fit(X)
        if self.scale_days is not None:
            grid = _grid(X, covariates=None)
            self.scale_ = pd.Series(_recent_scale(grid, int(self.scale_days)), index=pd.Index(grid.ids, name=ID),
                                    name="scale")
        return self

    def _new_series_scales(self, X):
        out = super()._new_series_scales(X)
        if out is None or self.scale_days is None:
            return out
        new = ~X[ID].astype(str).isin(self.scale_.index).to_numpy()
        grid = _grid(X[new], covariates=None)
        return pd.Series(_recent_scale(grid, int(self.scale_days)), index=pd.Index(grid.ids, name=ID), name="scale")


class _WindowScaled:
    """Wraps a fitted regressor: each input window is divided by its own scale, the output multiplied back."""

    def __init__(self, regressor, scale_fn):
        self.regressor, self.scale_fn = regressor, scale_fn
        self.X_shape_ = getattr(regressor, "X_shape_", None)

    def batch_predictor(self):
        import contextlib
        from m5kit.transformers.windows import _batch_predictor

        @contextlib.contextmanager
        def ctx():
            with _batch_predictor(self.regressor) as predict:
                def scaled_predict(x):
                    s = self.scale_fn(x[:, :, 0])
                    x = x.copy()
                    x[:, :, 0] /= s[:, None]
                    pred = np.asarray(predict(x), dtype=np.float32).reshape(len(x), -1)
                    return pred * s[:, None]
                yield scaled_predict
        return ctx()


def window_scale(lag: np.ndarray, offset: float = 1.0) -> np.ndarray:
    """Scale of each window: ``offset`` + mean of its lag column (in units)."""
    return (lag.mean(axis=1) + offset).astype(np.float32)


class WindowScaleWindower(ScaleWindower):
    """Windows scaled by their own context mean (+ ``scale_offset``), DeepAR/MQ-CNN style.

    The series scale is 1 (units); each training window's lag column and target(s) are
    divided by ``scale_offset + mean(lag column)``; the recursive forecast does the same
    at each step and multiplies the output back.
    """

    def __init__(self, window=28, horizon=1, features=None, stride=1, max_windows=None, random_state=0,
                 scale_days=None, scale_offset=1.0):
        super().__init__(window=window, horizon=horizon, features=features, stride=stride,
                         max_windows=max_windows, random_state=random_state, scale_days=scale_days)
        self.scale_offset = scale_offset

    def fit(self, X, y=None):
        Windower.fit(self, X)
        self.scale_ = pd.Series(1.0, index=self.scale_.index, name="scale")
        return self

    def _new_series_scales(self, X):
        new = ~X[ID].astype(str).isin(self.scale_.index).to_numpy()
        if not new.any():
            return None
        ids = pd.unique(X.loc[new, ID].astype(str))
        return pd.Series(1.0, index=pd.Index(ids, name=ID), name="scale")

    def _scale_fn(self, lag):
        return window_scale(lag, float(self.scale_offset))

    def make_training_data(self, X):
        X3d, y = super().make_training_data(X)
        s = self._scale_fn(X3d[:, :, 0])
        X3d[:, :, 0] /= s[:, None]
        y = (y / (s if y.ndim == 1 else s[:, None])).astype(np.float32)
        return X3d, y

    def recursive_predict(self, X, regressor, horizon=28):
        return super().recursive_predict(X, _WindowScaled(regressor, self._scale_fn), horizon=horizon)


from m5kit.models import CNNLSTMRegressor as _CNNLSTMRegressor  # noqa: E402


class TimedCNNLSTMRegressor(_CNNLSTMRegressor):
    """CNNLSTMRegressor that records the process CPU seconds of its fit in ``cpu_seconds_``."""

    def fit(self, X, y, sample_weight=None, **kwargs):
        import time
        start = time.process_time()
        super().fit(X, y, sample_weight=sample_weight, **kwargs)
        self.cpu_seconds_ = time.process_time() - start
        return self
