"""A Ridge per group that takes its time, for tests that watch a run on the cluster.

In a module of its own (not a test module) so that Dask workers unpickling
it import scikit-learn only, not the Keras backend a test module imports.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer


def flatten(windows):
    return np.asarray(windows).reshape(len(windows), -1)


class SlowRidge(Ridge):
    """A Ridge whose fit sleeps ``delay`` seconds first."""

    def __init__(self, alpha=1.0, *, delay=0.0):
        super().__init__(alpha=alpha)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.delay)
        return super().fit(X, y, sample_weight)


def slow_ridge(delay: float):
    """Flattened windows -> a Ridge whose fit takes ``delay`` s (groups then finish in several batches)."""
    return make_pipeline(FunctionTransformer(flatten), SlowRidge(delay=delay))
