"""The one place where m5kit bridges scikeras 0.13 and scikit-learn >= 1.6 tags.

scikeras 0.13 predates scikit-learn's ``__sklearn_tags__`` (1.6). Its
``KerasRegressor`` and ``KerasClassifier`` list their ``RegressorMixin`` /
``ClassifierMixin`` *after* ``BaseEstimator``, so the tags come from
``BaseEstimator`` alone: ``estimator_type`` is ``None`` and
``sklearn.base.is_regressor`` / ``is_classifier`` say False (``GridSearchCV``
would pick the wrong default scorer and CV splitter). The classes below
declare the tags themselves; m5kit's Keras estimators subclass them.
"""

from __future__ import annotations

from scikeras.wrappers import KerasClassifier as _ScikerasClassifier
from scikeras.wrappers import KerasRegressor as _ScikerasRegressor
from sklearn.utils import ClassifierTags, RegressorTags, Tags

__all__ = ["KerasClassifier", "KerasRegressor"]


class _KerasTags:
    """What every scikeras wrapper of m5kit declares: its task, input kinds, a required ``y``."""

    #: ``"regressor"`` or ``"classifier"``.
    _task: str

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Fit as scikeras does; a missing ``y`` is a ``ValueError`` (scikeras raises AttributeError)."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    def score(self, X, y, sample_weight=None) -> float:
        """Score as scikeras does; unfitted, a ``NotFittedError`` as ``predict``'s (scikeras: AttributeError y_dtype_)."""
        if not self.initialized_:
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("Estimator needs to be fit before `score` can be called")
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.estimator_type = self._task
        tags.non_deterministic = True  # unless random_state is set (and even then, per platform)
        tags.target_tags.required = True
        tags.target_tags.single_output = True
        tags.input_tags.two_d_array = True
        tags.input_tags.three_d_array = True  # sequence windows (n, steps, features)
        tags.input_tags.sparse = False
        if self._task == "regressor":
            tags.regressor_tags = RegressorTags(poor_score=True)  # a few epochs of SGD, not a closed form
            tags.target_tags.multi_output = True  # y of shape (n, k) -> k output units
        else:
            tags.classifier_tags = ClassifierTags(poor_score=True, multi_class=True, multi_label=False)
        return tags


class KerasRegressor(_KerasTags, _ScikerasRegressor):
    """scikeras' ``KerasRegressor`` with scikit-learn >= 1.6 tags.

    Same parameters and behaviour as :class:`scikeras.wrappers.KerasRegressor`;
    adds ``__sklearn_tags__``, a ``ValueError`` when ``fit`` gets no ``y`` and a
    ``NotFittedError`` from ``score`` before ``fit``.

    Examples
    --------
    >>> from sklearn.base import is_classifier, is_regressor
    >>> is_regressor(KerasRegressor()), is_classifier(KerasClassifier())
    (True, True)
    """

    _task = "regressor"


class KerasClassifier(_KerasTags, _ScikerasClassifier):
    """The classifier twin of :class:`KerasRegressor`: declares the classifier tags (multi-class, one label a sample)."""

    _task = "classifier"
