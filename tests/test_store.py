"""Tests of the model store's savers: Keras, LightGBM, XGBoost and pickled estimators, stored and loaded back."""

from __future__ import annotations

from m5kit.execution.threads import limit_threads

limit_threads()  # before Keras is imported: one thread, deterministic

import functools  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402

from m5kit import make_m5  # noqa: E402
from m5kit.errors import StoreError  # noqa: E402
from m5kit.store import ModelStore  # noqa: E402
from m5kit.transformers.windows import Windower  # noqa: E402
from _disk import full_disk_for  # noqa: E402

KINDS = ["keras", "lightgbm", "xgboost", "pickle"]
#: The model file of each kind (beside the .pkl and the .json record).
MODEL = {"keras": ".keras", "lightgbm": ".lgb.txt", "xgboost": ".ubj", "pickle": None}


@functools.lru_cache(maxsize=1)
def _windows() -> tuple[np.ndarray, np.ndarray]:
    """Two weeks of sales of m5kit's tiny generated data as features, the next day's sales as target."""
    sales = make_m5(n_items=2, n_stores=2, n_days=120).sales.filter(regex=r"^d_").to_numpy("float32")
    windows = np.lib.stride_tricks.sliding_window_view(sales, 15, axis=1).reshape(-1, 15)
    return windows[:, :14], windows[:, 14]


@functools.cache
def _fitted(kind: str):
    """A tiny fitted estimator of ``kind`` and the X it predicts on (skips when its library is missing)."""
    X, y = _windows()
    if kind == "keras":
        from m5kit.models import CNNLSTMRegressor

        X = X[..., None]
        est = CNNLSTMRegressor(epochs=1, batch_size=32, model__conv_filters=4, model__kernel_size=3,
                               model__lstm_units=4, random_state=0)
    elif kind == "lightgbm":
        est = pytest.importorskip("lightgbm").LGBMRegressor(n_estimators=5, min_child_samples=5, n_jobs=1, verbose=-1)
    elif kind == "xgboost":
        est = pytest.importorskip("xgboost").XGBRegressor(n_estimators=5, max_depth=2, n_jobs=1)
    else:
        est = Ridge(alpha=1.0)
    return est.fit(X, y), X


def _store(path) -> ModelStore:
    store = ModelStore(path)
    store.open_run({"level": 3})
    return store


def _group_files(store: ModelStore) -> list[str]:
    folder = store.path / "groups"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_round_trips_with_identical_predictions(kind, tmp_path):
    """A group of each kind is stored in its own format and loads back predicting exactly as before."""
    est, X = _fitted(kind)
    store = _store(tmp_path)
    store.save_group("CA_1", Windower(window=14), est, {"fingerprint": "a", "loss": 0.5})
    assert _group_files(store) == sorted(f"CA_1{suffix}" for suffix in (".json", ".pkl", MODEL[kind]) if suffix)
    win, back, record = store.load_group("CA_1")
    assert win.get_params()["window"] == 14
    assert record["store_kind"] == kind and record["loss"] == 0.5
    assert type(back) is type(est) and back is not est
    if kind == "keras":
        assert "model_" not in vars(back)  # handed over as .keras bytes: loaded only when used
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


def test_resume_skips_the_stored_groups_of_every_kind(tmp_path):
    """stored() finds each kind's complete groups with their fingerprint; the manifest names each group's kind and file."""
    kinds = [k for k in KINDS if k in ("keras", "pickle") or importlib.util.find_spec(k)]
    store = _store(tmp_path)
    for kind in kinds:
        store.save_group(kind, Windower(window=14), _fitted(kind)[0], {"fingerprint": "a"})
    fingerprints = dict.fromkeys(kinds, "a")
    assert store.stored(fingerprints) == set(kinds)
    assert store.stored({**fingerprints, "pickle": "changed"}) == set(kinds) - {"pickle"}
    manifest = store.finish()
    assert {k: (r["store_kind"], r["model_file"]) for k, r in manifest["groups"].items()} == {
        k: (k, MODEL[k] and f"{k}{MODEL[k]}") for k in kinds}
    assert "trust" in manifest["warning"]
    for kind in set(kinds) - {"pickle"}:  # a lost model file: the group is fitted again
        (tmp_path / "groups" / manifest["groups"][kind]["model_file"]).unlink()
    assert store.stored(fingerprints) == {"pickle"}
    store.open_run({"level": 12}, overwrite=True)  # another run: clear() removes every kind's files
    assert _group_files(store) == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_write_of_each_kind_leaves_no_part_of_the_group(kind, tmp_path, monkeypatch):
    """A disk that fails mid-save: one-line StoreError, no file of the group (the older version too), then saving works again."""
    est, _ = _fitted(kind)
    store = _store(tmp_path)
    store.save_group("CA_1", None, est, {"fingerprint": "a"})

    with monkeypatch.context() as patch:
        full_disk_for(patch)
        with pytest.raises(StoreError, match=r"^cannot write group 'CA_1' .*No space left on device[^\n]*$"):
            store.save_group("CA_1", None, est, {"fingerprint": "b"})
    assert _group_files(store) == [] and store.records() == {}
    store.save_group("CA_1", None, est, {"fingerprint": "b"})
    assert store.stored({"CA_1": "b"}) == {"CA_1"}


@pytest.mark.parametrize("kind", ["keras", "lightgbm", "xgboost"])
def test_an_unfitted_estimator_is_refused_in_one_line(kind, tmp_path):
    """Saving an estimator that was never fitted raises one StoreError line and writes no file of the group."""
    unfitted = clone(_fitted(kind)[0])
    store = _store(tmp_path)
    with pytest.raises(StoreError, match=r"^the \w+ has no fitted (Keras model|booster) to store: fit it first$"):
        store.save_group("CA_1", None, unfitted, {"fingerprint": "a"})
    assert _group_files(store) == []


@pytest.mark.parametrize("kind", ["keras", "lightgbm", "xgboost"])
def test_a_truncated_model_file_is_one_clear_error(kind, tmp_path):
    """A model file cut short after it was stored (a copy that stopped) is one StoreError line, not a crash."""
    est, _ = _fitted(kind)
    store = _store(tmp_path)
    store.save_group("CA_1", None, est, {"fingerprint": "a"})
    model = tmp_path / "groups" / f"CA_1{MODEL[kind]}"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    with pytest.raises(StoreError, match=r"^group 'CA_1' in the model store .* cannot be loaded \(.*damaged.*\): [^\n]*$"):
        store.load_group("CA_1")


@pytest.mark.parametrize(("kind", "said"), [("lightgbm", "LightGBM"), ("xgboost", "XGBoost")])
def test_a_truncated_model_file_of_an_older_store_is_one_clear_error(tmp_path, kind, said):
    """A cut LightGBM or XGBoost file in a store written before records kept the model's checksum: one StoreError
    line (LightGBM aborted the process; XGBoost could try to allocate tens of GB)."""
    est, _ = _fitted(kind)
    store = _store(tmp_path)
    store.save_group("CA_1", None, est, {"fingerprint": "a"})
    record = tmp_path / "groups" / "CA_1.json"
    record.write_text(json.dumps({k: v for k, v in json.loads(record.read_text()).items() if not k.startswith("model_sha")}))
    model = tmp_path / "groups" / f"CA_1{MODEL[kind]}"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    with pytest.raises(StoreError, match=rf"^group 'CA_1' in the model store .* cannot be loaded \(damaged {said}"):
        store.load_group("CA_1")


@pytest.mark.parametrize("text", ["[1]", "{}", '{"group": 3}', '"CA_1"'])
def test_a_group_record_of_other_json_is_ignored_like_an_unreadable_one(text, tmp_path):
    """A group record edited into JSON that is no record (a list, no group name) is skipped like a cut one, not a TypeError."""
    est, _ = _fitted("pickle")
    store = _store(tmp_path)
    store.save_group("CA_1", None, est, {"fingerprint": "a"})
    store.save_group("CA_2", None, est, {"fingerprint": "a"})
    (tmp_path / "groups" / "CA_1.json").write_text(text)
    assert list(store.records()) == ["CA_2"]
    assert store.stored({"CA_1": "a", "CA_2": "a"}) == {"CA_2"}


@pytest.mark.parametrize("text", ["[1]", '"run"', "3"])
def test_a_manifest_of_other_json_is_one_clear_error(text, tmp_path):
    """A manifest edited into JSON that is no object is one StoreError line, not an AttributeError."""
    store = _store(tmp_path)
    store.manifest_path.write_text(text)
    with pytest.raises(StoreError, match=r"^the model store manifest .* is unreadable \(.*\): remove the folder or choose another$"):
        store.read_manifest()
    with pytest.raises(StoreError, match=r"is unreadable"):
        store.open_run({"level": 3})


class _OnnxRidge(Ridge):
    store_kind = "onnx"


def test_an_unknown_store_kind_is_one_clear_error(tmp_path):
    """An estimator asking for a saver the store does not have, or a record of one, gets one StoreError line."""
    X, y = _windows()
    store = _store(tmp_path)
    with pytest.raises(StoreError, match=r"^the _OnnxRidge asks for store kind 'onnx'.*use one of keras, lightgbm, xgboost, pickle$"):
        store.save_group("CA_1", None, _OnnxRidge().fit(X, y), {"fingerprint": "a"})
    assert _group_files(store) == []
    store.save_group("CA_1", None, Ridge().fit(X, y), {"fingerprint": "a"})
    record = tmp_path / "groups" / "CA_1.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "store_kind": "onnx"}))
    with pytest.raises(StoreError, match=r"^group 'CA_1' in the model store .* asks for store kind 'onnx'"):
        store.load_group("CA_1")


def test_a_store_written_before_savers_still_loads(tmp_path):
    """A store of .keras and .pkl files whose records name no kind (older m5kit) loads and resumes as Keras groups."""
    est, X = _fitted("keras")
    store = _store(tmp_path)
    groups = tmp_path / "groups"
    store.save_group("x.1", None, est, {"fingerprint": "a"})
    record = json.loads((groups / "x.1.json").read_text())
    for suffix in (".keras", ".pkl", ".json"):  # older stores named "x.1"'s files "x.keras", "x.pkl", "x.json"
        (groups / f"x.1{suffix}").rename(groups / f"x{suffix}")
    del record["store_kind"], record["model_file"]
    (groups / "x.json").write_text(json.dumps(record))
    assert store.stored({"x.1": "a"}) == {"x.1"}
    np.testing.assert_array_equal(store.load_group("x.1")[1].predict(X), est.predict(X))
    store.save_group("x.1", None, est, {"fingerprint": "b"})  # saved again: named as now, the old record gone
    assert [r["fingerprint"] for r in store.records().values()] == ["b"]


_NO_MODEL_LIBRARY = """
import sys, tempfile
import numpy as np
from sklearn.linear_model import Ridge
from m5kit.store import ModelStore

class Packed:
    store_kind = "keras"
    def __init__(self, packed=None):
        self.packed = packed
    def packed_model(self):
        return self.packed
    def without_model(self):
        return Packed()
    def set_packed_model(self, packed):
        self.packed = packed

store = ModelStore(tempfile.mkdtemp())
store.open_run({"level": 3})
store.save_group("keras", None, Packed(b"PK the .keras bytes"), {"fingerprint": "a"})
store.save_group("ridge", None, Ridge().fit(np.eye(3), np.arange(3.0)), {"fingerprint": "a"})
assert store.stored({"keras": "a", "ridge": "a"}) == {"keras", "ridge"}
assert store.load_group("keras")[1].packed == b"PK the .keras bytes"
assert store.load_group("ridge")[1].coef_.shape == (3,)
print(sorted({"keras", "tensorflow", "lightgbm", "xgboost"} & set(sys.modules)))
"""


def test_the_store_imports_no_model_library(tmp_path):
    """Saving and loading a Keras-kind and a pickled group in a fresh process imports neither Keras nor LightGBM nor XGBoost."""
    proc = subprocess.run([sys.executable, "-c", _NO_MODEL_LIBRARY], check=False, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[]"


def test_a_failed_manifest_write_is_one_store_error(tmp_path, monkeypatch):
    """A full disk while the manifest is written (a run opened or finished) is one StoreError line, not an OSError."""
    store = ModelStore(tmp_path / "store")
    with monkeypatch.context() as patch:
        full_disk_for(patch)
        with pytest.raises(StoreError, match=r"^cannot write the model store manifest .*manifest\.json \(No space left "
                                             r"on device\): free disk space or choose another folder, then run again"):
            store.open_run({"level": 12})
    assert store.read_manifest() is None and not any(store.path.iterdir())  # neither half a manifest nor a temp file
    store.open_run({"level": 12})
    with monkeypatch.context() as patch:
        full_disk_for(patch)
        with pytest.raises(StoreError, match=r"^cannot write the model store manifest [^\n]*$"):
            store.finish({"n_groups": 1})
    assert store.read_manifest()["run"] == {"level": 12}  # the manifest written before is whole


def test_open_run_overwrite_given_as_text_is_one_param_error_and_keeps_the_store(tmp_path):
    """ModelStore.open_run(other, overwrite='no') was read as true and emptied a store of another run: one ParamError
    line, the store kept."""
    from m5kit.errors import ParamError

    store = ModelStore(tmp_path / "store")
    store.open_run({"level": 3})
    with pytest.raises(ParamError, match=r"^invalid overwrite 'no': give False or True$"):
        store.open_run({"level": 4}, overwrite="no")
    assert store.read_manifest()["run"] == {"level": 3}


def test_a_file_digest_needs_no_python_311(tmp_path, monkeypatch):
    """A data file's SHA-256 is computed without hashlib.file_digest (Python 3.11's; setup.cfg admits 3.10)."""
    import hashlib

    from m5kit.store import file_stats

    data = bytes(range(256)) * 9000  # more than one read block
    (tmp_path / "a.csv").write_bytes(data)
    monkeypatch.delattr(hashlib, "file_digest", raising=False)  # absent before Python 3.11
    assert file_stats(tmp_path, ["a.csv"], content=True)["a.csv"][2] == hashlib.sha256(data).hexdigest()
