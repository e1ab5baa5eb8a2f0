"""The one place where m5kit bridges scikeras 0.13 and scikit-learn >= 1.7.

scikeras 0.13 predates scikit-learn's ``__sklearn_tags__`` (1.6). Its
``KerasRegressor`` lists ``RegressorMixin`` *after* ``BaseEstimator``, so the
tags come from ``BaseEstimator`` alone: ``estimator_type`` is ``None`` and
``sklearn.base.is_regressor`` says False (``GridSearchCV`` would pick the
wrong default scorer and CV splitter). :class:`KerasRegressor` below declares
the regressor's tags itself. Nothing else in m5kit touches scikeras internals
besides :mod:`m5kit.models.cnn_lstm`, which subclasses this.
"""

from __future__ import annotations

from scikeras.wrappers import KerasRegressor as _ScikerasRegressor
from sklearn.utils import RegressorTags, Tags

__all__ = ["KerasRegressor"]


class KerasRegressor(_ScikerasRegressor):
    """scikeras' ``KerasRegressor`` with scikit-learn >= 1.6 tags.

    Same parameters and behaviour as :class:`scikeras.wrappers.KerasRegressor`;
    adds ``__sklearn_tags__`` and a ``ValueError`` when ``fit`` gets no ``y``.

    Examples
    --------
    >>> from sklearn.base import is_regressor
    >>> is_regressor(KerasRegressor())
    True
    """

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Fit as scikeras does; a missing ``y`` is a ``ValueError`` (scikeras raises AttributeError)."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags(poor_score=True)  # a few epochs of SGD, not a closed form
        tags.non_deterministic = True  # unless random_state is set (and even then, per platform)
        tags.target_tags.required = True
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = True  # y of shape (n, k) -> k output units
        tags.input_tags.two_d_array = True
        tags.input_tags.three_d_array = True  # sequence windows (n, steps, features)
        tags.input_tags.sparse = False
        return tags
