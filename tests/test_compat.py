"""Tests of the scikeras / scikit-learn compatibility layer (m5kit.models._keras.compat)."""

from __future__ import annotations

from m5kit.execution.threads import limit_threads

limit_threads()  # before Keras is imported: one thread, deterministic

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.base import clone, is_classifier, is_regressor  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils import estimator_checks  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from m5kit.models import BaseKerasClassifier, CNNLSTMRegressor  # noqa: E402
from m5kit.models._keras.compat import KerasClassifier, KerasRegressor  # noqa: E402


def _tiny(**params) -> CNNLSTMRegressor:
    """A CNN-LSTM small and short enough for scikit-learn's estimator checks."""
    defaults = dict(
        epochs=2, batch_size=32, random_state=0,
        model__conv_filters=4, model__kernel_size=3, model__lstm_units=4,
    )
    return CNNLSTMRegressor(**{**defaults, **params})


#: scikit-learn checks that scikeras 0.13 (under the regressor tags) cannot pass, and why.
EXPECTED_FAILED_CHECKS = {
    "check_mixin_order": "scikeras' KerasRegressor lists RegressorMixin after BaseEstimator",
    "check_estimator_tags_renamed": "scikeras' BaseWrapper defines the pre-1.6 _more_tags (our subclass adds __sklearn_tags__)",
    "check_no_attributes_set_in_init": "scikeras stores routed **kwargs (model__*, fit__*) as attributes in __init__",
    "check_n_features_in_after_fitting": "scikeras' error for a wrong X shape is not sklearn's 'X has n features' message",
    "check_regressor_multioutput": "Keras predicts float32; sklearn wants float64 multi-output predictions",
    "check_sample_weight_equivalence_on_dense_data": "SGD on mini-batches: a weight of 2 is not the same as a repeated sample",
}


def _expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS


def test_keras_regressor_is_a_regressor():
    """scikit-learn recognises the wrapped Keras models as regressors (scoring, CV splitters)."""
    assert is_regressor(CNNLSTMRegressor())
    assert is_regressor(KerasRegressor())
    tags = get_tags(CNNLSTMRegressor())
    assert tags.estimator_type == "regressor"
    assert tags.regressor_tags is not None and tags.non_deterministic
    assert tags.input_tags.three_d_array and tags.target_tags.multi_output


def test_keras_classifier_is_a_classifier():
    """scikit-learn recognises m5kit's Keras classifiers as classifiers (accuracy scoring, stratified CV)."""
    assert is_classifier(KerasClassifier()) and is_classifier(BaseKerasClassifier())
    assert not is_regressor(BaseKerasClassifier())
    tags = get_tags(BaseKerasClassifier())
    assert tags.estimator_type == "classifier" and tags.classifier_tags.multi_class
    assert tags.input_tags.three_d_array and not tags.target_tags.multi_output


def test_clone_keeps_fit_and_routed_params():
    """clone (GridSearchCV, GroupedEstimator) keeps epochs, batch size and routed model__/fit__ params."""
    reg = CNNLSTMRegressor(epochs=7, batch_size=64, patience=2, log_dir="/tmp/x",
                           model__lstm_units=(8, 4), fit__validation_split=0.2)
    copy = clone(reg)
    params = copy.get_params()
    assert params["epochs"] == 7 and params["batch_size"] == 64 and params["patience"] == 2
    assert params["log_dir"] == "/tmp/x"
    assert params["model__lstm_units"] == (8, 4) and params["fit__validation_split"] == 0.2
    copy.set_params(model__lstm_units=16, epochs=3)
    assert copy.model__lstm_units == 16 and copy.epochs == 3 and reg.epochs == 7


#: Checks run by default (a few seconds); the whole suite runs with ``-m slow``.
FAST_CHECKS = (
    "check_estimator_cloneable", "check_get_params_invariance", "check_set_params", "check_estimators_unfitted",
    "check_estimators_empty_data_messages", "check_requires_y_none", "check_fit2d_predict1d",
    "check_estimators_pickle", "check_n_features_in",
)


@pytest.mark.slow
@parametrize_with_checks([_tiny()], expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    """CNNLSTMRegressor passes scikit-learn's estimator checks (known exceptions listed with reasons)."""
    check(estimator)


@pytest.mark.parametrize("name", FAST_CHECKS)
def test_sklearn_estimator_checks_fast(name):
    """A quick subset of scikit-learn's estimator checks passes on every default test run."""
    assert name not in EXPECTED_FAILED_CHECKS
    getattr(estimator_checks, name)(type(_tiny()).__name__, _tiny())


def test_two_dimensional_input_is_read_as_a_sequence():
    """A 2-D X (n, n_features) trains as a sequence of n_features steps of one feature."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)).astype("float32")
    reg = _tiny().fit(X, X[:, 0])
    assert reg.model_.input_shape == (None, 6)
    assert reg.predict(X).shape == (40,)


def test_score_before_fit_is_not_fitted_error():
    """score() of an unfitted CNNLSTMRegressor or BaseKerasClassifier was a bare AttributeError ('... has no attribute
    y_dtype_', scikeras reads the fit's target type first); it is scikit-learn's NotFittedError, as predict's."""
    from sklearn.exceptions import NotFittedError

    X, y = np.zeros((4, 6, 1), "float32"), np.array([0.0, 1.0, 0.0, 1.0])
    for estimator in (_tiny(), BaseKerasClassifier()):
        with pytest.raises(NotFittedError, match=r"^Estimator needs to be fit before `score` can be called$"):
            estimator.score(X, y)
