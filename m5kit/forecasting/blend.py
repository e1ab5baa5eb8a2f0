"""Several forecasters per group, averaged: :class:`BlendWindower` and :class:`BlendRegressor`.

The per-group machinery fits one windower and one estimator per group
(``GroupedEstimator(estimator, windower)``). A blend puts several of each in
those two slots: member ``i`` of the windower makes the training data of
member ``i`` of the regressor, and the group's forecast is the mean of the
members' forecasts. Two uses, both measured on the real store CA_1
(benchmarks/RESULTS.md):

- different strategies of one model (LightGBM recursive and direct: their
  errors differ, and their mean beats both, as in the M5 winners' blends);
- the same network with different seeds (the CNN-LSTM: one fit's forecast
  level depends on its seed; the mean of a few is steadier).

:class:`StitchWindower` puts direct models of different horizons in the
windower slot instead: each forecasts its own days (one per forecast week:
the first week's model reads sales from 7 days back on, the last week's from 28),
and the group's forecast is stitched from them.

Members are ordinary m5kit windowers (:class:`~m5kit.transformers.Windower`,
:class:`~m5kit.forecasting.features.LagFeatures`) and estimators; the blend
clones them, so both slots clone, pickle and go through the model store (as a
pickle: Keras members carry their model as ``.keras`` bytes).

Examples
--------
>>> from sklearn.linear_model import Ridge
>>> from m5kit.forecasting.features import LagFeatures
>>> windower = BlendWindower([LagFeatures(strategy="recursive"), LagFeatures(strategy="direct")])
>>> regressor = BlendRegressor([Ridge(), Ridge()])
>>> len(windower.windowers), len(regressor.estimators)
(2, 2)
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from m5kit.errors import DataError, ParamError

__all__ = ["BlendWindower", "BlendRegressor", "BlendData", "StitchWindower"]


class BlendData(list):
    """The training data of each member, in order (``len`` is the first member's sample count).

    A list of ``(X, y)`` pairs that :class:`BlendRegressor` splits among its members.
    ``prepare_seconds`` is the time spent making them while the regressor fitted
    (0 here: they were made before).
    """

    prepare_seconds = 0.0

    def __len__(self) -> int:  # the fit report's "n_windows": the first member's samples
        return len(self[0][0]) if list.__len__(self) else 0

    @property
    def n_members(self) -> int:
        return list.__len__(self)


class _MadeOnDemand(BlendData):
    """Each member's training data made when the regressor reaches it: one member's table in memory at a time.

    A list of the fitted windowers; iterating makes ``(X, y)`` member by member
    (four tables of a weekly stitch at level 1 of the full M5 would be ~14 GB
    at once). ``len`` is the first member's sample count, remembered from the
    iteration. ``prepare_seconds`` adds up the time spent making the tables, so
    that the fit report counts it as preparation, not fitting.
    """

    def __init__(self, windowers, frame: pd.DataFrame):
        super().__init__(windowers)
        self._frame = frame
        self._n_samples = None
        self.prepare_seconds = 0.0

    def _make(self, i: int):
        start = time.perf_counter()
        pair = list.__getitem__(self, i).make_training_data(self._frame)
        self.prepare_seconds += time.perf_counter() - start
        return pair

    def __iter__(self):
        for i in range(list.__len__(self)):
            pair = self._make(i)
            if i == 0:
                self._n_samples = len(pair[0])
            yield pair

    def __getitem__(self, i):
        return self._make(i)

    def __len__(self) -> int:
        if self._n_samples is None:
            self._n_samples = len(self[0][0])
        return self._n_samples


def _members(values, what: str) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not len(values):
        raise ParamError(f"a blend needs a non-empty list of {what}, got {values!r}")
    return list(values)


def _set_params(blend, members: str, params: dict, fixed: tuple[str, ...] = ()):
    """``set_params`` of a blend slot: its own parameters, and any other name set on every member.

    So ``groupedestimator__estimator__num_leaves=15`` (``m5kit train --param num_leaves=15``) reaches
    each booster of a blend, as it reaches the one booster of a plain pipeline.
    """
    own = blend.get_params(deep=False)
    shared = {k: v for k, v in params.items() if k.split("__", 1)[0] not in own}
    for name in shared:
        if name in fixed:
            raise ParamError(f"{type(blend).__name__}'s members each have their own {name}: set it on each member "
                             f"({members}=[...])")
    BaseEstimator.set_params(blend, **{k: v for k, v in params.items() if k not in shared})
    if shared:
        setattr(blend, members, [clone(m).set_params(**shared) for m in _members(getattr(blend, members), members)])
    return blend


class BlendWindower(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """The windower slot of a blend: one windower per member.

    Parameters
    ----------
    windowers : list of windowers
        Member ``i`` makes the training data of ``BlendRegressor`` member ``i``
        and forecasts with it. Cloned in :meth:`fit`.

    Attributes
    ----------
    windowers_ : list
        The fitted members.
    n_windows_ : int
        The first member's training samples.
    """

    def __init__(self, windowers):
        self.windowers = windowers

    def set_params(self, **params) -> BlendWindower:
        """Set the blend's parameters; any other name is set on every member windower.

        Returns
        -------
        self
        """
        return _set_params(self, "windowers", params)

    def _check_params(self) -> None:
        """Check every member's parameters (what :class:`~m5kit.grouped.GroupedEstimator` does before any group is fitted)."""
        for windower in _members(self.windowers, "windowers"):
            check = getattr(windower, "_check_params", None)
            if callable(check):
                check()

    def fit(self, X: pd.DataFrame, y=None) -> BlendWindower:
        """Fit a clone of every member on the group's long frame.

        Returns
        -------
        self
        """
        self.windowers_ = [clone(w).fit(X) for w in _members(self.windowers, "windowers")]
        self.n_windows_ = getattr(self.windowers_[0], "n_windows_", None)
        return self

    def make_training_data(self, X: pd.DataFrame) -> tuple[BlendData, None]:
        """Every member's ``(X, y)``, as one :class:`BlendData` (and ``None`` for y).

        Each member's table is made when the regressor fits that member, so
        one table is in memory at a time.
        """
        check_is_fitted(self, "windowers_")
        return _MadeOnDemand(self.windowers_, X), None

    def transform(self, X: pd.DataFrame) -> BlendData:
        """The members' training data (see :meth:`make_training_data`)."""
        return self.make_training_data(X)[0]

    def _check_pairs(self, regressor: BlendRegressor) -> None:
        """Both slots fitted, with one estimator per windower."""
        check_is_fitted(self, "windowers_")
        check_is_fitted(regressor, "estimators_")
        if len(regressor.estimators_) != len(self.windowers_):
            raise ParamError(f"the {type(self).__name__} has {len(self.windowers_)} windowers but "
                             f"{len(regressor.estimators_)} estimators: give it and BlendRegressor as many members")

    def recursive_predict(self, X: pd.DataFrame, regressor: BlendRegressor, horizon: int = 28) -> pd.DataFrame:
        """The mean of the members' forecasts (each member with its own regressor).

        Returns
        -------
        DataFrame
            ``id``, ``d``, ``forecast``, as the members give them.
        """
        self._check_pairs(regressor)
        parts = [w.recursive_predict(X, est, horizon=horizon) for w, est in zip(self.windowers_, regressor.estimators_)]
        out = parts[0].copy()
        keys = pd.MultiIndex.from_frame(out[["id", "d"]].astype(str))
        values = [out["forecast"].to_numpy(dtype=np.float64)]
        for part in parts[1:]:
            aligned = part.set_index(pd.MultiIndex.from_frame(part[["id", "d"]].astype(str)))["forecast"].reindex(keys)
            values.append(aligned.to_numpy(dtype=np.float64))
        out["forecast"] = np.mean(values, axis=0).astype(np.float32)
        return out


def _horizon_of(windower) -> int:
    """A stitch member's horizon: a direct windower's ``horizon`` parameter."""
    params = windower.get_params(deep=False)
    horizon = params.get("horizon")
    if params.get("strategy", "direct") != "direct" or isinstance(horizon, bool) or \
            not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ParamError(f"a stitch member must forecast directly for a whole number of days, got "
                         f"{type(windower).__name__}(strategy={params.get('strategy')!r}, horizon={horizon!r}): "
                         "give members such as LagFeatures(strategy='direct', horizon=7)")
    return int(horizon)


class StitchWindower(BlendWindower):
    """The windower slot of a stitched forecast: direct members of different horizons, each with its own days.

    A direct model of horizon ``h`` reads sales at least ``h`` days old, so a
    short horizon sees more recent sales. Here day ``d`` of the forecast comes
    from the members with the smallest horizon ``>= d`` (averaged when several
    share it, such as seeds): with horizons 7, 14, 21 and 28, the first week's
    forecast reads the sales up to the day before it, the last week's those up
    to 28 days before. Pair it with a :class:`BlendRegressor` of as many
    members.

    Parameters
    ----------
    windowers : list of windowers
        Direct windowers with a ``horizon`` parameter
        (:class:`~m5kit.forecasting.features.LagFeatures`). Cloned in :meth:`fit`.

    Attributes
    ----------
    windowers_ : list
        The fitted members.
    horizons_ : list of int
        Each member's horizon.
    n_windows_ : int
        The first member's training samples.

    Examples
    --------
    >>> from m5kit.forecasting.features import LagFeatures
    >>> weekly = StitchWindower([LagFeatures(horizon=h) for h in (7, 14, 21, 28)])
    >>> [w.horizon for w in weekly.windowers]
    [7, 14, 21, 28]
    """

    def set_params(self, **params) -> StitchWindower:
        """Set the stitch's parameters; any other name but ``horizon`` is set on every member.

        Returns
        -------
        self
        """
        return _set_params(self, "windowers", params, fixed=("horizon",))

    def _check_params(self) -> None:
        super()._check_params()
        for windower in self.windowers:
            _horizon_of(windower)

    def fit(self, X: pd.DataFrame, y=None) -> StitchWindower:
        """Check every member's horizon, then fit a clone of each on the group's long frame.

        Returns
        -------
        self

        Raises
        ------
        ParamError
            A member that does not forecast directly for a whole number of days.
        """
        horizons = [_horizon_of(w) for w in _members(self.windowers, "windowers")]
        super().fit(X)
        self.horizons_ = horizons
        return self

    def recursive_predict(self, X: pd.DataFrame, regressor: BlendRegressor, horizon: int = 28) -> pd.DataFrame:
        """The stitched forecast: day ``d`` from the members with the smallest horizon ``>= d``.

        Returns
        -------
        DataFrame
            ``id``, ``d``, ``forecast``, as the members give them.

        Raises
        ------
        DataError
            ``horizon`` longer than the longest member's.
        """
        check_is_fitted(self, "horizons_")
        self._check_pairs(regressor)
        horizon = int(horizon)
        if horizon > max(self.horizons_):
            raise DataError(f"these members forecast at most {max(self.horizons_)} days and cannot forecast {horizon}: "
                            f"add a member of horizon {horizon}")
        ids, values, frame, done = None, None, None, 0
        for h in sorted(set(self.horizons_)):
            if done >= horizon:
                break
            n = min(h, horizon)
            parts = [w.recursive_predict(X, est, horizon=n)
                     for w, est, mh in zip(self.windowers_, regressor.estimators_, self.horizons_) if mh == h]
            forecast = np.mean([p["forecast"].to_numpy(dtype=np.float64) for p in parts], axis=0)
            these = parts[0]["id"].astype(str).to_numpy()[::n]  # series by series, n days each
            if ids is None:
                ids, values = these, np.empty((len(these), horizon))
            elif not np.array_equal(these, ids):
                raise DataError("the stitch members forecast different series: fit them on the same frame")
            values[:, done:n] = forecast.reshape(len(ids), n)[:, done:n]
            frame, done = parts[0], n
        frame["forecast"] = values.astype(np.float32).ravel()
        return frame


def _check_blend_data(X, n_members: int, what: str) -> None:
    """A ParamError unless ``X`` is a :class:`BlendData` of ``n_members`` members."""
    if not isinstance(X, BlendData) or X.n_members != n_members:
        got = X.n_members if isinstance(X, BlendData) else type(X).__name__
        raise ParamError(f"BlendRegressor with {n_members} members needs the {what} of a BlendWindower "
                         f"with as many members, got {got}")


class BlendRegressor(RegressorMixin, BaseEstimator):
    """The estimator slot of a blend: one estimator per member, member ``i`` fitted on member ``i``'s data.

    Parameters
    ----------
    estimators : list of estimators
        Cloned in :meth:`fit`.
    random_state : int or None, default=None
        When set, member ``i`` gets ``random_state + i`` (members that have
        the parameter): the same network with different seeds is a seed blend.
        The per-group machinery sets it to each group's seed.

    Attributes
    ----------
    estimators_ : list
        The fitted members.
    history_ : dict
        The first member's training history (when it has one).
    monitor_ : list
        The training rules that fired, over all members.
    """

    def __init__(self, estimators, random_state: int | None = None):
        self.estimators = estimators
        self.random_state = random_state

    def set_params(self, **params) -> BlendRegressor:
        """Set the blend's parameters; any other name is set on every member estimator.

        Returns
        -------
        self
        """
        return _set_params(self, "estimators", params)

    def fit(self, X: BlendData, y=None) -> BlendRegressor:
        """Fit member ``i`` on ``X[i]`` (a :class:`BlendData` from :class:`BlendWindower`).

        Returns
        -------
        self
        """
        members = _members(self.estimators, "estimators")
        _check_blend_data(X, len(members), "training data")
        fitted = []  # set once every member is fitted: a failed refit leaves the last fit whole
        for i, (est, (Xi, yi)) in enumerate(zip(members, X)):
            est = clone(est)
            if self.random_state is not None and "random_state" in est.get_params(deep=False):
                est.set_params(random_state=int(self.random_state) + i)
            if yi is not None and not np.any(yi):  # nothing sold: see m5kit.models.gbm.for_zero_targets
                from m5kit.models.gbm import for_zero_targets

                est.set_params(**for_zero_targets(est))
            fitted.append(est.fit(Xi, yi))
        self.estimators_ = fitted
        history = getattr(self.estimators_[0], "history_", None)
        if history is not None:
            self.history_ = history
        else:  # not the last fit's: the fit report read its epochs and loss
            self.__dict__.pop("history_", None)
        self.monitor_ = [f for est in self.estimators_ for f in (getattr(est, "monitor_", None) or [])]
        return self

    def predict(self, X: BlendData):
        """The mean of the members' predictions on their own samples (same sample count needed)."""
        check_is_fitted(self, "estimators_")
        _check_blend_data(X, len(self.estimators_), "data")  # zip took the first members alone, or rows as members
        preds = [np.asarray(est.predict(Xi)) for est, (Xi, _) in zip(self.estimators_, X)]
        if len({p.shape for p in preds}) > 1:
            raise ParamError("the blend members predict different shapes: average their forecasts through "
                             "BlendWindower.recursive_predict instead")
        return np.mean(preds, axis=0)
