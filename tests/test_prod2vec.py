"""Order baskets (Instacart format) and the Prod2Vec skip-gram transformer."""

from __future__ import annotations

import numpy as np
import pytest

from m5kit.datasets.baskets import BASKET_FILES, load_baskets, make_baskets, write_baskets
from m5kit.errors import DataError
from m5kit.models.embeddings import Prod2Vec, basket_pairs, neighbour_score
from _disk import full_disk_for


@pytest.fixture(scope="module")
def baskets():
    return make_baskets(n_orders=3000, n_products=120, n_aisles=8, n_departments=3, seed=0)


def test_generated_baskets_have_the_planted_structure(baskets):
    """About 10 products per order, every product in one aisle, orders drawn from 2-3 aisles."""
    sizes = baskets.prior.groupby("order_id").size()
    assert 8 < sizes.mean() < 12 and not baskets.prior.duplicated(["order_id", "product_id"]).any()
    aisles = baskets.prior.merge(baskets.products, on="product_id").groupby("order_id")["aisle_id"].nunique()
    assert aisles.max() <= 4 and aisles.mean() < 3.5
    assert make_baskets(n_orders=50, seed=3).prior.equals(make_baskets(n_orders=50, seed=3).prior)


def test_files_round_trip_and_bad_files_are_one_line(baskets, tmp_path):
    """write_baskets then load_baskets gives the same rows; a missing file or column is one clear DataError."""
    folder = write_baskets(baskets, tmp_path / "insta")
    loaded = load_baskets(folder)
    assert loaded.prior[["order_id", "product_id"]].equals(baskets.prior[["order_id", "product_id"]].reset_index(drop=True))
    (folder / "aisles.csv").unlink()
    with pytest.raises(DataError, match="aisles.csv is missing from"):
        load_baskets(folder)
    write_baskets(baskets, folder)
    (folder / "products.csv").write_text("product_id,name\n1,x\n")
    with pytest.raises(DataError, match="products.csv: missing column 'product_name'"):
        load_baskets(folder)



def test_write_baskets_of_a_table_without_a_column_is_one_data_error(baskets, tmp_path):
    """write_baskets of Baskets whose products table lacks product_name was a bare KeyError ("['product_name'] not in
    index"): one DataError naming the table, the column and the file, and nothing written."""
    import dataclasses

    bad = dataclasses.replace(baskets, products=baskets.products.drop(columns="product_name"))
    with pytest.raises(DataError, match=r"^the products table has no column 'product_name' \(it has product_id, "
                                        r"aisle_id, department_id\): products.csv needs product_id, product_name, "
                                        r"aisle_id, department_id$"):
        write_baskets(bad, tmp_path / "insta")
    assert not (tmp_path / "insta").exists()


def test_write_baskets_to_a_folder_it_cannot_be_is_one_data_error(baskets, tmp_path, monkeypatch):
    """write_baskets into a file, under one, or with a folder named orders.csv was a bare FileExistsError,
    NotADirectoryError or IsADirectoryError; '~/insta' was a folder named '~' in the working folder, where
    load_baskets('~/insta') does not look. Now one DataError each, and '~' is the home folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match=r"^'afile' is a file, not a folder: give a folder to write the CSV files "
                                        r"into$"):
        write_baskets(baskets, "afile")
    with pytest.raises(DataError, match=r"^cannot create the folder 'afile/insta' \(Not a directory\): choose "
                                        r"another folder$"):
        write_baskets(baskets, "afile/insta")
    (tmp_path / "insta" / "orders.csv").mkdir(parents=True)
    with pytest.raises(DataError, match=r"^'insta/orders\.csv' is a folder, not a file: remove it or choose "
                                        r"another folder$"):
        write_baskets(baskets, "insta")
    assert write_baskets(baskets, "~/insta") == tmp_path / "home" / "insta"
    assert not (tmp_path / "~").exists() and len(load_baskets("~/insta").orders) == len(baskets.orders)


def test_write_baskets_removes_what_a_killed_write_left(baskets, tmp_path):
    """write_baskets killed as it wrote (every file is written before any is renamed) left its hidden temporary files in
    the folder for good, as write_m5 no longer does: writing the folder again removes them."""
    folder = tmp_path / "insta"
    folder.mkdir()
    (folder / ".orders.csv.4242.tmp").write_text("order_id,user_id\n1,")
    write_baskets(baskets, folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(fname for fname, _ in BASKET_FILES.values())


def test_write_baskets_failing_midway_keeps_the_old_files_whole(baskets, tmp_path, monkeypatch):
    """write_baskets over older baskets failing at a later file (a full disk) left the new orders and order_products
    beside the old products, aisles and departments, a mix of two data sets: the folder now keeps the old files."""
    import pandas as pd

    folder = write_baskets(make_baskets(n_orders=50, n_products=20, n_aisles=4, n_departments=2, seed=1),
                           tmp_path / "insta")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real = pd.DataFrame.to_csv

    def full_disk(frame, handle, *args, **kwargs):
        if "aisle" in frame.columns and "aisle_id" in frame.columns:
            raise OSError(28, "No space left on device")
        return real(frame, handle, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_baskets(baskets, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.mark.parametrize(("name", "content", "problem"), [
    ("orders.csv", b"", "orders.csv is empty: it needs a header line"),
    ("products.csv", b"\xff\xfe\x00\x01\x80\x81\n", "products.csv is not UTF-8 text"),
    ("products.csv", b'product_id,product_name,aisle_id,department_id\n1,"Milk,1,1\n2,Eggs,1,1\n',
     "products.csv cannot be read as CSV (Error tokenizing data"),
    ("aisles.csv", None, "aisles.csv is missing from"),
], ids=["empty file", "not UTF-8", "unclosed quote", "a folder named aisles.csv"])
def test_unreadable_files_are_one_line(baskets, tmp_path, name, content, problem):
    """A file pandas cannot parse (empty, binary, a broken quote, a folder) is one DataError, not pandas' traceback."""
    folder = write_baskets(baskets, tmp_path / "insta")
    (folder / name).unlink()
    if content is None:
        (folder / name).mkdir()
    else:
        (folder / name).write_bytes(content)
    with pytest.raises(DataError, match=__import__("re").escape(problem)) as info:
        load_baskets(folder)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("column", "value", "problem"), [
    ("product_id", "1.5", "product_id 1.5 on line 3 is not a whole number: fix the file"),
    ("product_id", "", "product_id (empty) on line 3 is not a whole number: fix the file"),
    ("order_id", "99999999999", "order_id 99999999999 on line 3 is out of range (give a whole number from -2147483648 to"),
], ids=["fraction", "empty cell", "too large"])
def test_ids_that_do_not_fit_are_refused_not_altered(baskets, tmp_path, column, value, problem):
    """A fractional id was cut to its whole part and one beyond int32 wrapped around (both silently, then
    trained on as another product or order); an empty cell's message showed np.float64(nan)."""
    import pandas as pd

    folder = write_baskets(baskets, tmp_path / "insta")
    prior = pd.read_csv(folder / "order_products__prior.csv", dtype=str)
    prior.loc[1, column] = value
    prior.to_csv(folder / "order_products__prior.csv", index=False)
    with pytest.raises(DataError, match=__import__("re").escape(problem)):
        load_baskets(folder)


def test_order_products_read_in_chunks_are_the_file_and_a_bad_value_names_its_line(baskets, tmp_path, monkeypatch):
    """load_baskets reads an order-products file a chunk at a time into arrays of its narrow dtypes (read whole,
    pandas held Instacart's 32 M prior rows as int64 and a copy: 2.2 GB at the peak): the rows are the file's, with
    or without its last newline, and a bad value past the first chunk names its own line."""
    import pandas as pd

    from m5kit.datasets import baskets as module

    folder = write_baskets(baskets, tmp_path / "insta")
    path = folder / "order_products__prior.csv"
    expected = pd.read_csv(path)
    expected = expected.astype({col: module._DTYPES[col] for col in expected.columns})
    monkeypatch.setattr(module, "_CHUNK_ROWS", 7)
    pd.testing.assert_frame_equal(load_baskets(folder).prior, expected)
    text = path.read_text()
    path.write_text(text.rstrip("\n"))
    pd.testing.assert_frame_equal(load_baskets(folder).prior, expected)
    path.write_bytes(text.replace("\n", "\r").encode())  # lines ended by a lone '\r', which pandas reads too
    pd.testing.assert_frame_equal(load_baskets(folder).prior, expected)
    path.write_text(text)
    prior = pd.read_csv(path, dtype=str)
    prior.loc[20, "reordered"] = "300"
    prior.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"^order_products__prior.csv: reordered 300 on line 22 is out of range "):
        load_baskets(folder)


@pytest.mark.parametrize("name", ["orders.csv", "order_products__prior.csv", "products.csv", "aisles.csv",
                                  "departments.csv"])
@pytest.mark.parametrize("line", [2, 4])
def test_a_row_with_an_extra_field_is_refused_in_every_basket_file(baskets, tmp_path, name, line):
    """A row with one field too many (',7' appended; a name with an unquoted comma) was read silently: pandas,
    given the columns to read, dropped the extra field. It is one line naming the file and the line."""
    folder = write_baskets(baskets, tmp_path / "insta")
    lines = (folder / name).read_bytes().splitlines(True)
    lines[line - 1] = lines[line - 1].rstrip(b"\n") + b",7\n"
    (folder / name).write_bytes(b"".join(lines))
    fields = lines[0].count(b",") + 1
    with pytest.raises(DataError, match=f"^{name}.*Expected {fields} fields in line {line}, saw {fields + 1}") as info:
        load_baskets(folder)
    assert "\n" not in str(info.value)


def test_a_data_folder_that_is_a_file_is_named_so(tmp_path):
    """--data-dir naming a file said the folder 'does not exist'."""
    (tmp_path / "orders.csv").write_text("order_id\n")
    with pytest.raises(DataError, match="orders.csv is a file, not a folder: give the folder that holds"):
        load_baskets(tmp_path / "orders.csv")
    with pytest.raises(DataError, match="nowhere does not exist: give the folder that holds"):
        load_baskets(tmp_path / "nowhere")

def test_pairs_are_every_ordered_pair_within_a_basket():
    """Pairs never cross baskets; a basket of s products gives s(s-1) pairs."""
    basket = np.array([0, 0, 0, 1, 1, 2])
    t, c = basket_pairs(basket, np.array([1, 2, 3, 4, 5, 6]))
    assert len(t) == 3 * 2 + 2 * 1 + 0
    assert set(zip(t.tolist(), c.tolist())) == {(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2), (4, 5), (5, 4)}


def test_vectors_put_products_of_one_aisle_together(baskets):
    """After a short fit, most of each product's nearest neighbours share its aisle (chance: ~1/8)."""
    model = Prod2Vec(embedding_dim=16, epochs=2, min_count=1, batch_size=512, random_state=0)
    model.fit(baskets.prior, products=baskets.products)
    assert neighbour_score(model, baskets.products, "aisle_id", k=5) > 0.6
    assert model.transform([1, 2]).shape == (2, 16)
    assert list(model.get_feature_names_out()[:2]) == ["emb_0", "emb_1"]
    similar = model.most_similar(1, k=3)
    assert len(similar) == 3 and 1 not in similar["product_id"].tolist()
    with pytest.raises(DataError, match="product 99999 has no vector"):
        model.transform([99999])


def test_clone_pickle_and_set_params_keep_the_fitted_vectors(baskets):
    """clone copies the parameters; a pickled model transforms the same; after set_params the names of the
    features still match transform's columns (they followed embedding_dim, not the fitted vectors)."""
    import pickle

    from sklearn.base import clone

    small = baskets.prior[baskets.prior["order_id"] <= 300]
    model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, random_state=0).fit(small)
    assert clone(model).get_params() == model.get_params() and not hasattr(clone(model), "embeddings_")
    again = pickle.loads(pickle.dumps(model))
    ids = model.products_[:5]
    assert np.array_equal(again.transform(ids), model.transform(ids))
    assert again.most_similar(ids[0], k=3).equals(model.most_similar(ids[0], k=3))
    again.set_params(embedding_dim=16)
    assert len(again.get_feature_names_out()) == again.transform(ids).shape[1] == 4


def test_transform_of_a_table_is_refused_not_flattened(baskets):
    """transform flattened a frame of several columns, so order ids were looked up as product ids: an order_id,
    product_id frame of 3 rows gave 6 vectors (or a 'no vector' error naming an order id)."""
    small = baskets.prior[baskets.prior["order_id"] <= 300]
    model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, random_state=0).fit(small)
    known = small[small["product_id"].isin(model.products_) & small["order_id"].isin(model.products_)].head(3)
    with pytest.raises(DataError, match=r"transform takes product ids \(a list or one column\), not a table of shape \(3, 2\)"):
        model.transform(known[["order_id", "product_id"]])
    assert model.transform(known[["product_id"]]).shape == model.transform(known["product_id"]).shape == (3, 4)


@pytest.mark.parametrize("given", [None, 5])
def test_fit_of_no_baskets_is_one_data_error(given):
    """Prod2Vec().fit(None) was a bare TypeError ('NoneType' object is not iterable): one DataError line."""
    with pytest.raises(DataError, match=rf"^the baskets are {type(given).__name__}, not baskets: give a frame of "
                                        r"order_id, product_id rows or a list of baskets \(lists of product ids\)$"):
        Prod2Vec(embedding_dim=4, epochs=1, min_count=1).fit(given)


@pytest.mark.parametrize("seed", ["x", -1, 1.5, np.random.RandomState(0)])
def test_a_bad_random_state_is_one_param_error(baskets, seed):
    """A random_state that is not a whole number >= 0 was a TypeError or ValueError from NumPy or int()."""
    from m5kit.errors import ParamError

    with pytest.raises(ParamError, match=r"invalid random_state .*: give a whole number of at least 0"):
        Prod2Vec(embedding_dim=4, epochs=1, min_count=1, random_state=seed).fit(baskets.prior.head(200))


def test_fit_refuses_a_products_table_listing_a_product_twice(baskets):
    """A products table with a repeated product_id stopped the fit, after training, with pandas'
    'cannot reindex on an axis with duplicate labels'."""
    import pandas as pd

    products = pd.concat([baskets.products, baskets.products.iloc[[6]]], ignore_index=True)
    with pytest.raises(DataError, match="products lists product 7 more than once: give one row per product_id"):
        Prod2Vec(embedding_dim=4, epochs=1, min_count=1).fit(baskets.prior.head(200), products=products)


def test_most_similar_of_several_ids_is_one_data_error(baskets):
    """most_similar([1, 2]) raised TypeError: unhashable type: 'list'."""
    model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, random_state=0).fit(baskets.prior.head(300))
    with pytest.raises(DataError, match=r"most_similar takes one product id, not list \[1, 2\]: call it once per product"):
        model.most_similar([1, 2], k=3)
    assert len(model.most_similar(np.int64(model.products_[0]), k=3)) == 3


def test_most_similar_works_with_pandas_output(baskets):
    """After set_output(transform="pandas") (transform's documented DataFrame output) most_similar raised KeyError: 0."""
    model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, random_state=0).fit(baskets.prior.head(300))
    expected = model.most_similar(model.products_[0], k=3)
    model.set_output(transform="pandas")
    assert model.most_similar(model.products_[0], k=3).equals(expected)


def test_same_seed_same_vectors(baskets):
    """Two fits with the same random_state give the same vectors."""
    small = baskets.prior[baskets.prior["order_id"] <= 500]
    a = Prod2Vec(embedding_dim=8, epochs=1, min_count=1, random_state=3).fit(small).embeddings_
    b = Prod2Vec(embedding_dim=8, epochs=1, min_count=1, random_state=3).fit(small).embeddings_
    assert np.array_equal(a.to_numpy(), b.to_numpy())


def test_pipeline_runs_resumes_and_stops_on_a_failed_quality_check(tmp_path):
    """The seven steps write their outputs; a second run skips them; duplicate rows stop it with a report."""
    from m5kit.datasets.baskets import write_baskets
    from m5kit.prod2vec import P2VConfig, QualityError, run_prod2vec

    config = P2VConfig(n_orders=400, embedding_dim=8, epochs=1, min_count=1)
    first = run_prod2vec(config, tmp_path / "run")
    assert first["steps"]["ran"] == ["preprocess", "quality", "branch", "train", "extract"]
    table = __import__("pandas").read_csv(first["files"]["csv"])
    assert {"product_id", "product_name", "emb_0"} <= set(table.columns)
    again = run_prod2vec(config, tmp_path / "run")
    assert again["steps"]["already done"] == ["preprocess", "quality", "train", "extract"]

    data = make_baskets(n_orders=100, n_products=30, n_aisles=3, n_departments=2)
    data.prior = __import__("pandas").concat([data.prior, data.prior.head(3)], ignore_index=True)
    folder = write_baskets(data, tmp_path / "dup")
    with pytest.raises(QualityError, match=r"check 'duplicate rows' failed: 3 row\(s\).*run the same command again"):
        run_prod2vec(P2VConfig(data_dir=str(folder), embedding_dim=8, epochs=1, min_count=1), tmp_path / "bad")
    assert (tmp_path / "bad" / "01_preprocess" / "rows.npz").exists()  # the earlier step's output is kept
    assert not (tmp_path / "bad" / "06_train").exists()


@pytest.mark.parametrize(("out", "problem"), [
    ("notes.txt", "output folder {tmp}/notes.txt is a file: choose a new or empty folder for --out"),
    ("notes.txt/run", "cannot create the output folder {tmp}/notes.txt/run (Not a directory): choose another --out"),
], ids=["a file", "under a file"])
@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["in process", "2 workers"])
def test_an_out_that_is_a_file_is_one_line_exit_1(tmp_path, out, problem, workers):
    """--out naming a file (or a folder under one) was a NotADirectoryError traceback; the file is left alone. With
    --workers the line came after a local cluster had started (seconds, and a dashboard line): now before."""
    from typer.testing import CliRunner

    from m5kit.cli import app

    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["prod2vec", "run", "--orders", "50", "--out", str(tmp_path / out), *workers])
    assert result.exit_code == 1 and not isinstance(result.exception, Exception), result.exception  # not a traceback
    assert result.stderr == f"error: {problem.format(tmp=tmp_path)}\n"
    assert (tmp_path / "notes.txt").read_text() == "mine" and "Dask dashboard" not in result.stdout


def test_resume_after_fixing_or_changing_the_files_reads_them_again(tmp_path):
    """After a failed quality check, fixing the files and running again passes (pre-processing had been skipped,
    so the stale rows failed the same check forever); after a finished run, changed files are read again and
    every step runs again instead of the old embeddings being reported as the run's."""
    import pandas as pd

    from m5kit.prod2vec import P2VConfig, QualityError, run_prod2vec

    data = make_baskets(n_orders=100, n_products=30, n_aisles=3, n_departments=2)
    folder = write_baskets(data, tmp_path / "insta")
    good = (folder / "order_products__prior.csv").read_text()
    prior = pd.read_csv(folder / "order_products__prior.csv")
    prior.loc[0, "product_id"] = 9999
    prior.to_csv(folder / "order_products__prior.csv", index=False)
    config, out = P2VConfig(data_dir=str(folder), embedding_dim=4, epochs=1, min_count=1), tmp_path / "run"
    with pytest.raises(QualityError, match="check 'unknown products' failed"):
        run_prod2vec(config, out)
    (folder / "order_products__prior.csv").write_text(good)
    fixed = run_prod2vec(config, out)
    assert fixed["steps"]["ran"][:2] == ["preprocess", "quality"] and fixed["quality"]["rows"] == len(data.prior)

    gone = data.prior["product_id"] == data.prior["product_id"].iloc[0]
    data.prior[~gone].to_csv(folder / "order_products__prior.csv", index=False)
    changed = run_prod2vec(config, out)
    assert changed["steps"]["ran"] == ["preprocess", "quality", "branch", "train", "extract"]
    assert changed["quality"]["rows"] == int((~gone).sum())
    vectors = pd.read_csv(changed["files"]["csv"])
    assert data.prior["product_id"].iloc[0] not in set(vectors["product_id"])
    assert run_prod2vec(config, out)["steps"]["already done"] == ["preprocess", "quality", "train", "extract"]


def test_a_run_that_failed_before_passing_its_checks_can_be_corrected_in_its_folder(tmp_path):
    """A wrong --data-dir or too high a --min-count stopped the run; the corrected command was then refused
    ('holds a different prod2vec run: choose another --out'), so one typo spoilt the default --out.
    A run that passed its checks is still never overwritten by different settings."""
    from m5kit.prod2vec import P2VConfig, QualityError, run_prod2vec

    folder = write_baskets(make_baskets(n_orders=100, n_products=30, n_aisles=3, n_departments=2), tmp_path / "insta")
    out = tmp_path / "run"
    with pytest.raises(DataError, match="does not exist"):
        run_prod2vec(P2VConfig(data_dir=str(tmp_path / "typo"), embedding_dim=4, epochs=1, min_count=1), out)
    with pytest.raises(QualityError, match="check 'vocabulary' failed"):
        run_prod2vec(P2VConfig(data_dir=str(folder), embedding_dim=4, epochs=1, min_count=10_000), out)
    done = run_prod2vec(P2VConfig(data_dir=str(folder), embedding_dim=4, epochs=1, min_count=1), out)
    assert done["steps"]["ran"] == ["preprocess", "quality", "branch", "train", "extract"]
    assert done["quality"]["vocabulary"] == 30
    with pytest.raises(DataError, match="holds a different prod2vec run \\(differs in min_count\\): choose another --out"):
        run_prod2vec(P2VConfig(data_dir=str(folder), embedding_dim=4, epochs=1, min_count=2), out)


def test_too_small_a_vocabulary_says_to_lower_min_count(tmp_path):
    """The vocabulary check said '0 row(s): fewer than 2 products reach min_count (e.g. -) ... fix the files and
    run the same command again': no rows were bad, and the same command fails the same way."""
    from m5kit.prod2vec import P2VConfig, QualityError, run_prod2vec

    with pytest.raises(QualityError) as info:
        run_prod2vec(P2VConfig(n_orders=50, embedding_dim=4, epochs=1, min_count=10_000), tmp_path / "run")
    message = str(info.value)
    assert message.startswith("data-quality check 'vocabulary' failed: 0 product(s) of ")
    assert "bought at least min_count=10000 times, and 2 are needed" in message
    assert message.endswith("Lower --min-count or give more baskets, and run again")
    assert "row(s):" not in message and "same command" not in message


def test_duplicate_products_fail_the_quality_check(tmp_path):
    """products.csv listing a product twice passed the checks, then training stopped with pandas'
    'cannot reindex on an axis with duplicate labels' traceback."""
    import pandas as pd

    from m5kit.prod2vec import P2VConfig, QualityError, run_prod2vec

    data = make_baskets(n_orders=100, n_products=30, n_aisles=3, n_departments=2)
    data.products = pd.concat([data.products, data.products.iloc[[4, 2]]], ignore_index=True)
    folder = write_baskets(data, tmp_path / "insta")
    with pytest.raises(QualityError, match=r"check 'duplicate products' failed: 2 row\(s\): products.csv has more than "
                                           r"one row for a product_id \(e.g. product 5, product 3\)"):
        run_prod2vec(P2VConfig(data_dir=str(folder), embedding_dim=4, epochs=1, min_count=1), tmp_path / "run")
    assert not (tmp_path / "run" / "02_quality" / "passed.json").exists()


def test_train_and_test_orders_are_not_empty_baskets(tmp_path):
    """Instacart's orders.csv also lists the train and test orders, whose products are not in the prior file:
    every real run warned of ~206,000 'empty baskets'. A prior order without rows still is one."""
    import pandas as pd

    from m5kit.prod2vec import P2VConfig, run_prod2vec

    data = make_baskets(n_orders=100, n_products=30, n_aisles=3, n_departments=2)
    extra = data.orders.tail(3).assign(order_id=[1001, 1002, 1003], eval_set=["train", "test", "prior"])
    data.orders = pd.concat([data.orders, extra], ignore_index=True)
    folder = write_baskets(data, tmp_path / "insta")
    result = run_prod2vec(P2VConfig(data_dir=str(folder), embedding_dim=4, epochs=1, min_count=1), tmp_path / "run")
    assert result["quality"]["warnings"] == [{"check": "empty baskets", "rows": 1, "what": "orders without any product row",
                                              "examples": ["order 1003"]}]


def _quality_reference(orders, products, known_products, known_orders, prior_orders, min_count):
    """The data-quality report as the checks made it with pandas on all rows at once (before session 27)."""
    import pandas as pd

    pairs = pd.DataFrame({"o": orders, "p": products})
    failed = []
    for name, bad, what in [
            ("missing values", pairs.isna().any(axis=1), "order or product id missing"),
            ("unknown products", ~pairs["p"].isin(known_products), "rows name a product not in products.csv"),
            ("unknown orders", ~pairs["o"].isin(known_orders), "rows name an order not in orders.csv"),
            ("duplicate rows", pairs.duplicated(), "the same (order, product) row appears twice")]:
        if bad.any():
            failed.append({"check": name, "rows": int(bad.sum()), "what": what,
                           "examples": [f"order {o} product {p}" for o, p in pairs[bad.to_numpy()].head(3).to_numpy()]})
    listed = pd.Series(known_products)
    if listed.duplicated().any():
        failed.append({"check": "duplicate products", "rows": int(listed.duplicated().sum()),
                       "what": "products.csv has more than one row for a product_id",
                       "examples": [f"product {p}" for p in listed[listed.duplicated()].unique()[:3]]})
    empty = sorted(set(prior_orders) - set(orders))
    warnings = [{"check": "empty baskets", "rows": len(empty), "what": "orders without any product row",
                 "examples": [f"order {o}" for o in empty[:3]]}] if empty else []
    sizes = pairs.groupby("o").size()
    counts = pairs["p"].value_counts()
    return {"failed": failed, "warnings": warnings, "rows": len(pairs), "orders": len(sizes),
            "vocabulary": int((counts >= min_count).sum()), "pairs_per_epoch": int((sizes * (sizes - 1)).sum()),
            "mean_basket": float(sizes.mean())}


@pytest.mark.parametrize("chunk", [3, 2_000_000])
def test_quality_checks_in_passes_give_the_pandas_report(tmp_path, monkeypatch, chunk):
    """The checks at Instacart's size held ~2.2 GB above the rows (pandas' duplicated and groupby on every row);
    on rows sorted by order (as pre-processing keeps them) they now run in passes of whole orders. The report and
    the error are the same: the same counts, and the same examples (the first rows in file order; of duplicates
    the later occurrences), whether a pass cuts between the duplicates' orders or not; shuffled or float rows
    take the pandas checks."""
    import json

    import pandas as pd

    from m5kit import prod2vec

    monkeypatch.setattr(prod2vec, "_QUALITY_CHUNK", chunk)
    rng = np.random.default_rng(5)
    sizes = np.concatenate(([4], rng.integers(1, 6, 39)))
    orders = np.repeat(np.arange(1, 41, dtype=np.int32), sizes)
    orders[orders == 7] = 90  # unknown order (orders.csv lists 1-40, and 41-43 as prior orders without rows)
    products = rng.integers(1, 13, len(orders)).astype(np.int32)  # repeats within an order: duplicate rows
    products[:4] = [5, 6, 6, 5]  # the later rows of each pair are the duplicates: product 6 first, then 5
    products[[4, 30, 31]] = [77, 78, 77]  # unknown products
    cases = {"sorted": np.argsort(orders, kind="stable"), "shuffled": rng.permutation(len(orders))}
    for name, order in cases.items():
        for dtype in ("int32", "float64"):
            o, p = orders[order].astype(dtype), products[order].astype(dtype)
            if dtype == "float64":
                o[5] = np.nan
            known_p = np.array([*range(1, 13), 3, 5], np.int32)
            arrays = dict(order_id=o, product_id=p, known_orders=np.arange(1, 44, dtype=np.int32),
                          known_products=known_p, prior_orders=np.arange(1, 44, dtype=np.int32))
            for min_count in (1, 30):
                folder = tmp_path / f"{name}-{dtype}-{min_count}"
                (folder / "01_preprocess").mkdir(parents=True)
                prod2vec._save_npz(folder / "01_preprocess" / "rows.npz", **arrays)
                expected = _quality_reference(o, p, known_p, arrays["known_orders"], arrays["prior_orders"], min_count)
                assert [c["check"] for c in expected["failed"]] == (["missing values"] * (dtype == "float64") + [
                    "unknown products", "unknown orders", "duplicate rows", "duplicate products"])
                with pytest.raises(prod2vec.QualityError) as info:
                    prod2vec.step_quality({"min_count": min_count}, str(folder))
                report = json.loads((folder / "02_quality" / "report.json").read_text())
                assert report == {**expected, "failed": expected["failed"] + [
                    {"check": "vocabulary", "rows": expected["vocabulary"], "what": "fewer than 2 products reach "
                     "min_count", "examples": []}] * (expected["vocabulary"] < 2)}, (name, dtype, min_count)
                first = expected["failed"][0]
                assert str(info.value).startswith(f"data-quality check '{first['check']}' failed: {first['rows']} "
                                                  f"row(s): {first['what']} (e.g. {', '.join(first['examples'])}); ")
    # clean sorted rows pass, or fail the vocabulary or pairs check with the same counts
    keep = ~np.isin(products, [77, 78]) & (orders != 90)
    o, p = orders[keep], products[keep]
    clean = ~pd.DataFrame({"o": o, "p": p}).duplicated().to_numpy()
    singles = np.arange(1, 41, dtype=np.int32), np.arange(40, dtype=np.int32) % 2 + 1  # baskets of one product
    for (o, p), min_count, check in [((o[clean], p[clean]), 1, None), ((o[clean], p[clean]), 1000, "vocabulary"),
                                     (singles, 1, "pairs")]:
        folder = tmp_path / f"clean-{min_count}-{check}"
        (folder / "01_preprocess").mkdir(parents=True)
        prod2vec._save_npz(folder / "01_preprocess" / "rows.npz", order_id=o, product_id=p,
                           known_orders=np.arange(1, 41, dtype=np.int32), known_products=np.arange(1, 13, dtype=np.int32))
        expected = _quality_reference(o, p, np.arange(1, 13), np.arange(1, 41), np.arange(1, 41), min_count)
        if check is None:
            assert prod2vec.step_quality({"min_count": min_count}, str(folder)) == expected
            continue
        with pytest.raises(prod2vec.QualityError, match=f"check '{check}' failed"):
            prod2vec.step_quality({"min_count": min_count}, str(folder))
        report = json.loads((folder / "02_quality" / "report.json").read_text())
        assert [c["check"] for c in report["failed"]] == [check] and {**report, "failed": []} == expected


def test_tuning_branch_writes_the_search(tmp_path):
    """With tune, the search runs (held-out pair loss), its trials CSV and plots are written, and training uses the best."""
    pytest.importorskip("optuna")
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    config = P2VConfig(n_orders=300, embedding_dim=8, epochs=1, min_count=1, tune=True, trials=2)
    result = run_prod2vec(config, tmp_path / "run")
    assert {"tune", "analysis", "train"} <= set(result["steps"]["ran"])
    assert (tmp_path / "run" / "05_analysis" / "trials.csv").exists()
    assert 100 <= result["best"]["embedding_dim"] <= 500



def test_a_run_stopped_before_the_tuning_analysis_writes_it_on_resume(tmp_path, monkeypatch):
    """A run stopped after the search but before its analysis was written (killed, or the plots failed) left
    best.json, so a resume skipped the tuning and never wrote 05_analysis."""
    pytest.importorskip("optuna")
    from m5kit import tuning
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    config = P2VConfig(n_orders=300, embedding_dim=8, epochs=1, min_count=1, tune=True, trials=2)

    def stopped(result, out):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(tuning, "write_analysis", stopped)
        with pytest.raises(KeyboardInterrupt):
            run_prod2vec(config, tmp_path / "run")
    result = run_prod2vec(config, tmp_path / "run")
    assert (tmp_path / "run" / "05_analysis" / "trials.csv").exists()
    assert {"tune", "analysis", "train", "extract"} <= set(result["steps"]["ran"])
    assert len(__import__("pandas").read_csv(tmp_path / "run" / "05_analysis" / "trials.csv")) == 2  # no trial ran twice

def test_compiled_training_step_learns_the_aisles_and_repeats(baskets, monkeypatch):
    """Big fits compile their step with XLA: it puts one aisle's products together and repeats for a seed."""
    from m5kit.models import embeddings

    monkeypatch.setattr(embeddings, "_JIT_FROM_BATCHES", 0)  # as a fit of millions of pairs would
    fits = [Prod2Vec(embedding_dim=16, epochs=2, min_count=1, batch_size=512, random_state=0).fit(baskets.prior)
            for _ in range(2)]
    assert neighbour_score(fits[0], baskets.products, "aisle_id", k=5) > 0.6
    assert np.array_equal(fits[0].embeddings_.to_numpy(), fits[1].embeddings_.to_numpy())


def test_held_out_loss_is_scored_in_blocks_of_bounded_memory(baskets, monkeypatch):
    """pair_loss is word2vec's loss over every held-out pair and its negatives, the same in any blocks,
    and its memory does not grow with the held-out pairs (it had gathered every pair's vectors at once:
    gigabytes per tuning trial)."""
    import tracemalloc

    from m5kit.models import embeddings

    train, held = baskets.prior[baskets.prior["order_id"] <= 2000], baskets.prior[baskets.prior["order_id"] > 2000]
    model = Prod2Vec(embedding_dim=64, epochs=1, min_count=1, random_state=0).fit(train)
    # The definition, all pairs at once: pair i's negatives are draws i*k .. i*k+k-1 of the seeded stream.
    orders, ids = held["order_id"].to_numpy(), held["product_id"].to_numpy()
    known = np.isin(ids, model.products_)
    t, c = basket_pairs(orders[known], np.searchsorted(model.products_, ids[known]))
    k = model.negatives
    draws = np.random.default_rng(7).random(len(t) * k)
    neg = np.minimum(np.searchsorted(model.noise_cdf_, draws), len(model.products_) - 1)
    vectors = model.embeddings_.filter(like="emb_").to_numpy()
    logit = model.output_[0] * np.einsum("ij,ij->i", vectors[np.r_[t, np.repeat(t, k)]],
                                         model.context_vectors_[np.r_[c, neg]]) + model.output_[1]
    p = np.clip(1 / (1 + np.exp(-logit.astype(np.float64))), 1e-7, 1 - 1e-7)
    expected = -np.mean(np.r_[np.log(p[:len(t)]), np.log(1 - p[len(t):])])
    full_gather = 2 * len(t) * (k + 1) * vectors.shape[1] * 4  # bytes of both gathers at once

    tracemalloc.start()
    try:
        loss = model.pair_loss(held, random_state=7)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loss == pytest.approx(expected, rel=1e-5)
    assert peak < full_gather / 4, (peak, full_gather)
    monkeypatch.setattr(embeddings, "_LOSS_BLOCK_VALUES", 1)  # blocks of 256 pairs, baskets 1000 rows at a time
    model.chunk_rows = 1000
    assert model.pair_loss(held, random_state=7) == pytest.approx(loss, rel=1e-6)


def test_neighbours_are_the_nearest_by_cosine_nearest_first(baskets):
    """neighbours(k) gives each product's k most cosine-similar others, in order; a k beyond the vocabulary is one error."""
    from m5kit.errors import ParamError

    model = Prod2Vec(embedding_dim=8, epochs=1, min_count=1, random_state=0).fit(baskets.prior)
    unit = model.embeddings_.filter(like="emb_").to_numpy().astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    n = len(model.products_)
    for k in (3, n - 1):
        assert np.array_equal(model.neighbours(k), np.argsort(-sims, axis=1, kind="stable")[:, :k])
    with pytest.raises(ParamError, match=f"k={n} neighbours asked of a vocabulary of {n} products"):
        model.neighbours(n)
    with pytest.raises(ParamError, match=f"k={n} neighbours asked of a vocabulary of {n} products"):
        model.most_similar(model.products_[0], k=n)
    assert len(model.most_similar(model.products_[0], k=n - 1)) == n - 1


# --- one run at a time in a run folder (prod2vec.lock) ------------------------------------

def _finished_run(folder, config, *, through="extract"):
    """A run folder as a run with ``config`` leaves it after step ``through`` (no training: tiny stand-in files)."""
    import json
    from dataclasses import asdict

    report = {"failed": [], "warnings": [], "rows": 6, "orders": 3, "vocabulary": 2, "pairs_per_epoch": 6,
              "mean_basket": 2.0}
    steps = {"preprocess": {"01_preprocess/products.csv": "product_id,product_name\n1,a\n2,b\n"},
             "quality": {"02_quality/report.json": json.dumps(report), "02_quality/passed.json": "{}"},
             "train": {"06_train/train.json": "{}"}, "extract": {"07_extract/neighbours.csv": "product_id\n"}}
    folder.mkdir(parents=True)
    (folder / "prod2vec.json").write_text(json.dumps(asdict(config)))
    for step, files in steps.items():
        for name, text in files.items():
            (folder / name).parent.mkdir(exist_ok=True)
            (folder / name).write_text(text)
        if step == through:
            return folder


def _contents(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _holder(folder):
    """A process holding ``folder``'s lock the way a running run does (until it is killed)."""
    import subprocess
    import sys
    from pathlib import Path

    import m5kit

    code = ("import sys; from pathlib import Path; from m5kit.prod2vec import _lock; "
            "_lock(Path(sys.argv[1])); print('locked', flush=True); sys.stdin.read()")
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(m5kit.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=env, text=True)
    assert proc.stdout.readline() == "locked\n"
    return proc


def _stub_train_and_extract(monkeypatch, out, lr=None):
    """Replace the train and extract steps by stubs writing their marks in ``out`` (checking the lr trained with)."""
    from m5kit import prod2vec

    def trained(config, folder, params):
        if lr is not None:
            assert config["lr"] == lr
        (out / "06_train").mkdir()
        (out / "06_train" / "train.json").write_text("{}")

    def extracted(config, folder):
        (out / "07_extract").mkdir()
        (out / "07_extract" / "neighbours.csv").write_text("product_id\n")
        return {"neighbours": str(out / "07_extract" / "neighbours.csv")}

    monkeypatch.setattr(prod2vec, "step_train", trained)
    monkeypatch.setattr(prod2vec, "step_extract", extracted)

def test_a_second_run_into_a_running_runs_folder_stops_at_once_and_changes_nothing(tmp_path):
    """Two runs into one --out overwrote each other's step outputs. While one runs (here: holds the lock), a second
    one stops with one line naming the folder and the running process; once that process is killed (-9, the lock
    left behind), the next run takes the lock over, resumes, and removes it when done."""
    import socket

    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.prod2vec import P2VConfig

    # quality not passed, other settings: without the lock, this run would clear the steps and start again
    out = _finished_run(tmp_path / "run", P2VConfig(n_orders=60), through="preprocess")
    holder = _holder(out)
    before = _contents(out)
    try:
        result = CliRunner().invoke(app, ["prod2vec", "run", "--orders", "50", "--out", str(out)])
        assert result.exit_code == 1 and not isinstance(result.exception, Exception), result.exception
        line = result.stderr
        assert line.startswith(f"error: {out} is in use by another prod2vec run (process {holder.pid} on "
                               f"{socket.gethostname()}, since "), line
        assert line.endswith("): wait for it or pass another --out\n") and line.count("\n") == 1, line
        assert _contents(out) == before  # the running run's outputs and its lock are untouched
    finally:
        holder.kill()
        holder.communicate()

    out = _finished_run(tmp_path / "done", P2VConfig(n_orders=50))
    holder = _holder(out)
    holder.kill()  # -9: it never removes its lock
    holder.communicate()
    assert (out / "prod2vec.lock").exists()
    result = CliRunner().invoke(app, ["prod2vec", "run", "--orders", "50", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "already done" in result.stdout and "preprocess, quality, train, extract" in result.stdout
    assert not (out / "prod2vec.lock").exists()
    assert sorted(p.name for p in out.iterdir()) == ["01_preprocess", "02_quality", "06_train", "07_extract",
                                                     "prod2vec.json"]


def test_a_stale_lock_is_taken_over_and_a_run_removes_its_lock_however_it_ends(tmp_path, monkeypatch, caplog):
    """A lock whose process has finished is taken over (a warning names it); the lock is gone after a normal run,
    after an error and after Ctrl-C, and the interrupted run then resumes."""
    import json
    import socket
    import subprocess
    import sys

    from m5kit import prod2vec
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    config = P2VConfig(n_orders=50)
    out = _finished_run(tmp_path / "run", config, through="quality")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / "prod2vec.lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))

    def interrupted(config, folder, params):
        assert json.loads((out / "prod2vec.lock").read_text())["pid"] == __import__("os").getpid()
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, caplog.at_level("WARNING", logger="m5kit.prod2vec"):
        patch.setattr(prod2vec, "step_train", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_prod2vec(config, out)
    assert f"no longer running (process {dead.pid} on {socket.gethostname()})" in caplog.text
    assert not (out / "prod2vec.lock").exists()

    _stub_train_and_extract(monkeypatch, out)
    resumed = run_prod2vec(config, out)
    assert resumed["steps"] == {"ran": ["branch", "train", "extract"], "already done": ["preprocess", "quality"]}
    assert not (out / "prod2vec.lock").exists()
    with pytest.raises(DataError, match="holds a different prod2vec run"):
        run_prod2vec(P2VConfig(n_orders=60), out)
    assert not (out / "prod2vec.lock").exists()


def test_a_lock_from_another_host_or_unreadable_is_not_taken_over(tmp_path):
    """A lock taken on another host cannot be checked from here: the message says which file to remove."""
    import json

    from m5kit.prod2vec import P2VConfig, RunLockedError, run_prod2vec

    out = _finished_run(tmp_path / "run", P2VConfig(n_orders=50))
    lock = out / "prod2vec.lock"
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.invalid", "time": "2026-01-02 03:04:05"}))
    with pytest.raises(RunLockedError) as info:
        run_prod2vec(P2VConfig(n_orders=50), out)
    assert str(info.value) == (f"{out} is locked by a prod2vec run on another host (process 1 on elsewhere.invalid, "
                               "since 2026-01-02 03:04:05), which cannot be checked from here: wait for it or pass "
                               f"another --out; if that run is no longer running, remove {lock} and run again")
    lock.write_text("{")
    with pytest.raises(RunLockedError, match=f"cannot be read .*remove {lock} and run again"):
        run_prod2vec(P2VConfig(n_orders=50), out)
    assert lock.read_text() == "{"
    lock.unlink()
    assert run_prod2vec(P2VConfig(n_orders=50), out)["steps"]["ran"] == ["branch"]


# --- what a user meets running, resuming and interrupting ---------------------------------

@pytest.mark.parametrize(("text", "reason"), [("", "not JSON"), ("[1, 2]", "a JSON list, not an object")],
                         ids=["emptied", "a list"])
def test_a_run_folder_whose_settings_file_is_not_a_runs_is_one_line(tmp_path, text, reason):
    """A prod2vec.json that is not a run's settings (emptied, edited) was a JSONDecodeError or AttributeError
    traceback; it is one line naming the file, exit 1, and the folder is left as it was."""
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.prod2vec import P2VConfig

    out = _finished_run(tmp_path / "run", P2VConfig(n_orders=50))
    (out / "prod2vec.json").write_text(text)
    before = _contents(out)
    result = CliRunner().invoke(app, ["prod2vec", "run", "--orders", "50", "--out", str(out)])
    assert result.exit_code == 1 and not isinstance(result.exception, Exception), result.exception
    assert result.stderr == (f"error: {out / 'prod2vec.json'} is not a prod2vec run's settings file ({reason}), so "
                             f"{out} holds no run to resume: choose another --out, or remove that folder to start a "
                             "new run there\n")
    assert _contents(out) == before


def test_ctrl_c_says_which_steps_are_kept_and_how_to_resume(tmp_path, monkeypatch):
    """Ctrl-C ended `m5kit prod2vec run` silently (exit 130, nothing on stderr): now one line names the steps kept
    in --out and says to run the same command, which then resumes after them."""
    from typer.testing import CliRunner

    from m5kit import prod2vec
    from m5kit.cli import app

    def interrupted(config, folder, params):
        raise KeyboardInterrupt

    out = tmp_path / "run"
    monkeypatch.setattr(prod2vec, "step_train", interrupted)
    command = ["prod2vec", "run", "--orders", "50", "--min-count", "1", "--out", str(out)]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 130
    assert result.stderr == (f"interrupted: the finished steps (preprocess, quality) are kept in {out}; run the same "
                             "command to resume\n")
    assert (out / "02_quality" / "passed.json").exists() and not (out / "prod2vec.lock").exists()
    assert prod2vec.finished_steps(out) == ["preprocess", "quality"]


def test_a_full_disk_in_a_step_is_one_line_saying_which_steps_are_kept(tmp_path, monkeypatch):
    """A full disk while a step wrote its output (here the trained model) was an OSError traceback; now one line
    saying so, which finished steps are kept and to run the same command, which then resumes after them."""

    from typer.testing import CliRunner

    from m5kit import prod2vec
    from m5kit.cli import app

    out = tmp_path / "run"
    command = ["prod2vec", "run", "--orders", "50", "--min-count", "1", "--epochs", "1", "--embedding-dim", "4",
               "--out", str(out)]
    with monkeypatch.context() as patch:
        full_disk_for(patch, "model.pkl")
        result = CliRunner().invoke(app, command)
    assert result.exit_code == 1 and result.stderr == (
        f"error: the run in {out} stopped: a file could not be written (No space left on device): free disk space or "
        "make the folder writable, then run the same command to resume; the finished steps (preprocess, quality) "
        "are kept\n"), (result.exit_code, result.stderr)
    assert not (out / "prod2vec.lock").exists() and not (out / "06_train" / "model.pkl").exists()
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.stderr
    assert prod2vec.finished_steps(out) == ["preprocess", "quality", "train", "extract"]


def test_baskets_without_rows_or_pairs_fail_the_quality_checks(tmp_path):
    """A prior file of its header alone failed 'vocabulary' with 'Lower --min-count' (at min_count=1); baskets of
    one product each passed the checks and training then stopped. Both are a failed check that says what is wrong,
    with pre-processing kept and nothing trained."""
    import json

    from m5kit.prod2vec import P2VConfig, QualityError, run_prod2vec

    data = make_baskets(n_orders=100, n_products=30, n_aisles=3, n_departments=2)
    folder = write_baskets(data, tmp_path / "insta")
    config = P2VConfig(data_dir=str(folder), embedding_dim=4, epochs=1, min_count=1)
    (folder / "order_products__prior.csv").write_text("order_id,product_id,add_to_cart_order,reordered\n")
    with pytest.raises(QualityError) as info:
        run_prod2vec(config, tmp_path / "empty")
    assert str(info.value) == ("data-quality check 'baskets' failed: order_products__prior.csv has no rows; see "
                               f"{tmp_path / 'empty' / '02_quality' / 'report.json'}. Give its order_id, product_id "
                               "rows, and run again")

    data.prior.drop_duplicates("order_id").to_csv(folder / "order_products__prior.csv", index=False)
    with pytest.raises(QualityError) as info:
        run_prod2vec(config, tmp_path / "singles")
    assert str(info.value).startswith("data-quality check 'pairs' failed: none of the 100 baskets holds two products "
                                      "bought at least min_count=1 times, so there is no pair to learn from; see ")
    assert str(info.value).endswith(". Give baskets of two or more products, and run again")
    assert (tmp_path / "singles" / "01_preprocess" / "rows.npz").exists()
    assert not (tmp_path / "singles" / "02_quality" / "passed.json").exists()
    assert not (tmp_path / "singles" / "06_train").exists()
    report = json.loads((tmp_path / "singles" / "02_quality" / "report.json").read_text())
    assert report["failed"][0]["check"] == "pairs"


def test_a_resumed_run_lists_the_parquet_file_it_wrote(tmp_path):
    """Run again after it finished, the run's table listed the CSV and neighbours files but not the Parquet one."""
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    out = _finished_run(tmp_path / "run", P2VConfig(n_orders=50))
    assert "parquet" not in run_prod2vec(P2VConfig(n_orders=50), out)["files"]  # none was written (no pyarrow)
    (out / "07_extract" / "embeddings.parquet").write_bytes(b"PAR1")
    files = run_prod2vec(P2VConfig(n_orders=50), out)["files"]
    assert files == {"csv": str(out / "07_extract" / "embeddings.csv"),
                     "parquet": str(out / "07_extract" / "embeddings.parquet"),
                     "neighbours": str(out / "07_extract" / "neighbours.csv")}


def test_baskets_that_are_a_column_of_ids_or_hold_missing_ids_are_one_data_error(baskets):
    """fit(prior["product_id"]) was TypeError "'int' object is not iterable"; a list of baskets holding NaN trained
    a vector for a product "nan". Both are one DataError saying what fit takes; nothing is trained."""
    model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, random_state=0)
    first = int(baskets.prior["product_id"].iloc[0])
    with pytest.raises(DataError, match=f"^basket 0 is {first}, not a list of product ids: give a frame of order_id, "
                                        r"product_id rows or a list of baskets \(lists of product ids\)$"):
        model.fit(baskets.prior["product_id"])
    with pytest.raises(DataError, match="^basket 1 is 'ab', not a list of product ids"):
        model.fit([[1, 2], "ab"])
    with pytest.raises(DataError, match="^the baskets hold missing product ids: drop them from the baskets$"):
        model.fit([[1, 2], [2, float("nan")], [1, 3]])
    assert not hasattr(model, "embeddings_")
    sets = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, subsample=0).fit([{1, 2}, (2, 3), np.array([1, 3])])
    assert sets.products_.tolist() == [1, 2, 3]  # any iterable of ids is a basket


def test_fit_refuses_a_products_table_without_names(baskets):
    """A products table without product_name (or product_id) was ignored: the vectors came without names, unsaid."""
    model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, random_state=0)
    for dropped in ("product_name", "product_id"):
        with pytest.raises(DataError, match=f"^products needs the columns product_id and product_name \\(missing "
                                            f"'{dropped}'\\): pass products.csv's rows, or no products$"):
            model.fit(baskets.prior, products=baskets.products.drop(columns=dropped))
    assert not hasattr(model, "embeddings_")


def test_fit_transform_is_refused_before_training(baskets):
    """fit_transform(baskets) trained the whole model, then failed with transform's 'not a table of shape (n, 4):
    pass the product_id column alone', a call the user never made. It is refused at once, saying what to call."""
    from m5kit.errors import ParamError

    model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, random_state=0)
    with pytest.raises(ParamError, match=r"^Prod2Vec fits on baskets and transforms product ids, so fit_transform has "
                                         r"no X to take: call fit\(baskets\), then transform\(product_ids\)$"):
        model.fit_transform(baskets.prior)
    assert not hasattr(model, "embeddings_")


def test_a_run_whose_training_diverged_can_be_rerun_with_a_lower_lr_in_its_folder(tmp_path, monkeypatch):
    """Training stopped with 'lower lr'; the command with a lower --lr was then refused ('holds a different prod2vec
    run (differs in lr): choose another --out'), though nothing was trained. It now trains there, keeping the
    pre-processed data and its checks; a run that trained is still never overwritten by other settings."""
    from m5kit import prod2vec
    from m5kit.errors import ParamError
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    def diverged(config, folder, params):
        raise ParamError("prod2vec's loss became nan in epoch 1: ... lower lr (now 1000.0) or batch_size (now 1024)")

    out = tmp_path / "run"
    monkeypatch.setattr(prod2vec, "step_train", diverged)
    with pytest.raises(ParamError, match="lower lr"):
        run_prod2vec(P2VConfig(n_orders=50, min_count=1, lr=1000.0), out)

    _stub_train_and_extract(monkeypatch, out, lr=0.025)
    lowered = run_prod2vec(P2VConfig(n_orders=50, min_count=1), out)
    assert lowered["steps"] == {"ran": ["branch", "train", "extract"], "already done": ["preprocess", "quality"]}
    with pytest.raises(DataError, match=r"holds a different prod2vec run \(differs in lr\): choose another --out"):
        run_prod2vec(P2VConfig(n_orders=50, min_count=1, lr=0.01), out)
    assert (out / "06_train" / "train.json").exists()


def test_options_that_play_no_part_do_not_make_a_different_run(tmp_path):
    """A finished run started again with another --trials (without --tune), --embedding-dim or --lr (with --tune) or
    --orders (with --data-dir), options that change nothing, was refused as 'a different prod2vec run'; it is the
    same run: every step is done."""
    import json

    from m5kit.prod2vec import P2VConfig, _source, run_prod2vec

    out = _finished_run(tmp_path / "run", P2VConfig(n_orders=50, trials=10))
    assert run_prod2vec(P2VConfig(n_orders=50, trials=3), out)["steps"]["ran"] == ["branch"]
    with pytest.raises(DataError, match=r"differs in n_orders\)"):
        run_prod2vec(P2VConfig(n_orders=60, trials=3), out)
    tuned = _finished_run(tmp_path / "tuned", P2VConfig(n_orders=50, tune=True))
    (tuned / "04_tune").mkdir()
    (tuned / "04_tune" / "best.json").write_text('{"params": {"embedding_dim": 120, "lr": 0.01}}')
    assert run_prod2vec(P2VConfig(n_orders=50, tune=True, embedding_dim=50, lr=0.5), tuned)["best"]["embedding_dim"] == 120

    folder = str(write_baskets(make_baskets(n_orders=50, n_products=20, n_aisles=2, n_departments=1), tmp_path / "in"))
    out = _finished_run(tmp_path / "data-run", P2VConfig(data_dir=folder, n_orders=100_000))
    (out / "01_preprocess" / "source.json").write_text(json.dumps(_source(folder)))
    assert run_prod2vec(P2VConfig(data_dir=folder, n_orders=500), out)["steps"]["ran"] == ["branch"]


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_file_separated_by_semicolons_or_tabs_is_named_so(baskets, tmp_path, sep, name):
    """products.csv saved with semicolons said "missing column 'product_id'", though its header shows product_id."""
    import pandas as pd

    folder = write_baskets(baskets, tmp_path / "insta")
    pd.read_csv(folder / "products.csv").to_csv(folder / "products.csv", index=False, sep=sep)
    with pytest.raises(DataError, match=f"^products.csv: its header has values separated by {name}: give the file with "
                                        r"values separated by commas \(product_id, product_name, aisle_id, "
                                        r"department_id\)$"):
        load_baskets(folder)


@pytest.mark.parametrize(("setting", "problem"), [
    ({"lr": 0.0}, "invalid lr 0.0: give a number > 0"),
    ({"embedding_dim": 0}, "invalid embedding_dim 0: give a whole number of at least 1"),
    ({"min_count": 1.5}, "invalid min_count 1.5: give a whole number of at least 1"),
    ({"tune": "no"}, "invalid tune 'no': give False or True"),  # it was read as true: the search ran
    # a bare TypeError (os.path.abspath(5))
    ({"data_dir": 5}, "invalid data_dir 5: give the folder that holds the Instacart CSV files as a str or pathlib.Path"),
], ids=["lr", "embedding_dim", "min_count", "tune", "data_dir"])
def test_run_prod2vec_refuses_a_bad_setting_before_touching_the_folder(tmp_path, setting, problem):
    """run_prod2vec(P2VConfig(lr=0)) pre-processed and checked the data, wrote the run folder, and only failed in
    training; a bad setting is one ParamError before anything is written."""
    from m5kit.errors import ParamError
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    with pytest.raises(ParamError, match=f"^{__import__('re').escape(problem)}$"):
        run_prod2vec(P2VConfig(n_orders=50, **setting), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_load_baskets_train_given_as_text_is_one_param_error(tmp_path):
    """load_baskets(train='no') was read as true (it then wanted order_products__train.csv): one ParamError line."""
    from m5kit.errors import ParamError

    folder = write_baskets(make_baskets(n_orders=20, n_products=10, n_aisles=2, n_departments=2), tmp_path / "insta")
    with pytest.raises(ParamError, match=r"^invalid train 'no': give False or True$"):
        load_baskets(folder, train="no")


def test_run_prod2vec_of_a_dict_is_one_param_error(tmp_path):
    """run_prod2vec({...}) (settings as a dict, not a P2VConfig) was a bare AttributeError: one ParamError line."""
    from m5kit.errors import ParamError
    from m5kit.prod2vec import run_prod2vec

    with pytest.raises(ParamError, match=r"^invalid config of type dict: give a P2VConfig, e.g. "
                                         r"P2VConfig\(\*\*settings\) for a dict of settings$"):
        run_prod2vec({"n_orders": 50}, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("kwargs, said", [
    ({"progress": "False"}, "invalid progress 'False': give False or True"),  # read as true: the bar of the trials
    ({"n_parallel": 0}, "invalid number of parallel trials 0: give a whole number of at least 1"),
])
def test_run_prod2vec_bad_progress_or_n_parallel_is_refused_before_touching_the_folder(tmp_path, kwargs, said):
    """run_prod2vec(progress='False') showed the bar, n_parallel=0 failed only at the tuning step after the data was
    pre-processed: one ParamError line before anything is written."""
    from m5kit.errors import ParamError
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    with pytest.raises(ParamError, match=f"^{__import__('re').escape(said)}$"):
        run_prod2vec(P2VConfig(n_orders=50, tune=True), tmp_path / "run", **kwargs)
    assert not (tmp_path / "run").exists()


def test_too_few_baskets_to_tune_on_is_one_line_and_the_run_can_go_on_without_tuning(tmp_path, monkeypatch):
    """With one order, every trial failed ('fewer than 2 products ... lower min_count', at min_count=1) and the run
    folder then refused --no-tune. The search is refused before it starts, saying why, and --no-tune goes on there."""
    pytest.importorskip("optuna")
    from m5kit import prod2vec
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    out = tmp_path / "run"
    with pytest.raises(DataError) as info:
        run_prod2vec(P2VConfig(n_orders=1, min_count=1, tune=True, trials=2), out)
    assert str(info.value) == ("too few baskets to tune on: each trial trains on 9 in 10 of the 1 orders and is scored "
                               "on the pairs of the others, which need two products the trained ones bought at least "
                               "min_count=1 times; give more baskets, or run without --tune")
    assert not (out / "04_tune").exists()

    def trained(config, folder, params):
        (out / "06_train").mkdir()
        (out / "06_train" / "train.json").write_text("{}")

    monkeypatch.setattr(prod2vec, "step_train", trained)
    monkeypatch.setattr(prod2vec, "step_extract", lambda config, folder: {})
    untuned = run_prod2vec(P2VConfig(n_orders=1, min_count=1, trials=2), out)
    assert untuned["steps"] == {"ran": ["branch", "train", "extract"], "already done": ["preprocess", "quality"]}


def test_a_relative_data_dir_names_the_same_folder_from_anywhere(tmp_path, monkeypatch):
    """--data-dir was recorded as typed: the same command run from another folder, whose 'data' holds other baskets,
    took them for changed files and wiped the finished run; the run's own folder named another way was refused as
    'a different prod2vec run'. The folder is recorded absolute: the first is refused, the second resumes."""
    from m5kit import prod2vec
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    for name, seed in (("a", 0), ("b", 1)):
        write_baskets(make_baskets(n_orders=50, n_products=20, n_aisles=2, n_departments=1, seed=seed),
                      tmp_path / name / "data")

    def trained(config, folder, params):
        (tmp_path / "run" / "06_train").mkdir()
        (tmp_path / "run" / "06_train" / "train.json").write_text("{}")

    def extracted(config, folder):
        (tmp_path / "run" / "07_extract").mkdir()
        (tmp_path / "run" / "07_extract" / "neighbours.csv").write_text("product_id\n")
        return {}

    monkeypatch.setattr(prod2vec, "step_train", trained)
    monkeypatch.setattr(prod2vec, "step_extract", extracted)
    monkeypatch.chdir(tmp_path / "a")
    run_prod2vec(P2VConfig(data_dir="data", min_count=1), tmp_path / "run")
    before = _contents(tmp_path / "run")
    monkeypatch.chdir(tmp_path / "b")
    with pytest.raises(DataError, match=r"holds a different prod2vec run \(differs in data_dir\)"):
        run_prod2vec(P2VConfig(data_dir="data", min_count=1), tmp_path / "run")
    assert _contents(tmp_path / "run") == before
    monkeypatch.chdir(tmp_path)
    again = run_prod2vec(P2VConfig(data_dir="a/data", min_count=1), tmp_path / "run")
    assert again["steps"]["already done"] == ["preprocess", "quality", "train", "extract"]


def test_a_different_run_s_message_gives_the_settings_that_resume_it(tmp_path):
    """'holds a different prod2vec run (differs in epochs, min_count): choose another --out' left the user to guess
    the settings that would resume the run; the message gives them as the command's options."""
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.prod2vec import P2VConfig

    out = _finished_run(tmp_path / "run", P2VConfig(n_orders=50, epochs=1, min_count=1))
    result = CliRunner().invoke(app, ["prod2vec", "run", "--orders", "50", "--epochs", "2", "--tune", "--out", str(out)])
    assert result.exit_code == 1 and not isinstance(result.exception, Exception), result.exception
    assert result.stderr == (f"error: {out} holds a different prod2vec run (differs in epochs, min_count, tune): choose "
                             "another --out, or resume it with its own settings (--epochs 1 --min-count 1 --no-tune)\n")


def test_a_resumed_tuned_run_lists_its_analysis_as_done(tmp_path):
    """Run again after it tuned, the run's 'already done' listed tune but not analysis, whose files it kept."""
    pytest.importorskip("optuna")
    from m5kit.prod2vec import P2VConfig, finished_steps, run_prod2vec

    out = _finished_run(tmp_path / "run", P2VConfig(n_orders=50, tune=True))
    for name, text in (("04_tune/best.json", '{"params": {"embedding_dim": 120, "lr": 0.01}}'),
                       ("05_analysis/trials.csv", "number,value\n0,0.6\n")):
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_text(text)
    result = run_prod2vec(P2VConfig(n_orders=50, tune=True), out)
    assert result["steps"]["already done"] == finished_steps(out) == ["preprocess", "quality", "tune", "analysis",
                                                                        "train", "extract"]


def test_a_missing_column_s_message_shows_the_header_found(baskets, tmp_path):
    """A header with spaces after its commas (or in capitals) said "missing column 'product_name'" of a file that
    seems to have it; the message shows the header as read, spaces and all."""
    folder = write_baskets(baskets, tmp_path / "insta")
    text = (folder / "products.csv").read_text().split("\n", 1)
    (folder / "products.csv").write_text(text[0].replace(",", ", ") + "\n" + text[1])
    with pytest.raises(DataError, match=r"^products.csv: missing column 'product_name' \(its header has 'product_id', "
                                        r"' product_name', ' aisle_id', ' department_id'\): the file needs the columns "
                                        r"product_id, product_name, aisle_id, department_id$"):
        load_baskets(folder)


def test_a_failed_refit_leaves_the_last_fit_whole(baskets):
    """A refit that failed in training (here: no pair to learn from) had already replaced products_ with the new
    baskets' vocabulary: the old vectors were then read as other products' (most_similar named wrong products).
    The model keeps its last fit whole."""
    model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, random_state=0).fit(baskets.prior.head(2000))
    products, vectors = model.products_.copy(), model.transform(model.products_[:5])
    singles = baskets.prior.tail(3000).drop_duplicates("order_id")
    with pytest.raises(DataError, match="hold no pair of two products"):
        model.fit(singles)
    assert np.array_equal(model.products_, products) and len(model.counts_) == len(products)
    assert np.array_equal(model.transform(products[:5]), vectors)
    assert set(model.most_similar(products[0], 3)["product_id"]) <= set(products)


def test_a_zipped_file_is_named_with_what_to_do(baskets, tmp_path):
    """Kaggle ships Instacart's files as orders.csv.zip and so on: 'orders.csv is missing ...: put Instacart's
    orders.csv there' did not say that the file was there, still packed."""
    import zipfile

    folder = write_baskets(baskets, tmp_path / "insta")
    with zipfile.ZipFile(folder / "orders.csv.zip", "w") as archive:
        archive.write(folder / "orders.csv", "orders.csv")
    (folder / "orders.csv").unlink()
    with pytest.raises(DataError, match=f"^orders.csv is missing from '{folder}', which holds orders.csv.zip: unpack "
                                        "it there$"):
        load_baskets(folder)


def test_a_data_dir_given_as_a_path_resumes(tmp_path, monkeypatch):
    """P2VConfig(data_dir=Path(...)) was recorded as text and compared as a Path: the same call again was refused
    as 'a different prod2vec run (differs in data_dir)'. It resumes."""
    from m5kit import prod2vec
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    folder = write_baskets(make_baskets(n_orders=50, n_products=20, n_aisles=2, n_departments=1), tmp_path / "in")
    out = tmp_path / "run"

    def trained(config, folder, params):
        (out / "06_train").mkdir()
        (out / "06_train" / "train.json").write_text("{}")

    monkeypatch.setattr(prod2vec, "step_train", trained)
    monkeypatch.setattr(prod2vec, "step_extract", lambda config, folder: {})
    run_prod2vec(P2VConfig(data_dir=folder, min_count=1), out)
    assert run_prod2vec(P2VConfig(data_dir=folder, min_count=1), out)["steps"]["already done"][-1] == "train"


def test_data_that_cannot_be_read_never_wipes_a_finished_run(tmp_path, monkeypatch):
    """Run again with its data folder moved away (or a file spoilt), a finished run was taken for one whose files
    changed: every step's output was removed, then reading the files failed. The error now leaves the run whole;
    the files put back as they were (written again: new modification times) run nothing again, and readable
    changed files still make every step run again."""
    import shutil

    from m5kit import prod2vec
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    data = make_baskets(n_orders=50, n_products=20, n_aisles=2, n_departments=1)
    folder = write_baskets(data, tmp_path / "in")
    out = tmp_path / "run"

    def trained(config, folder, params):
        (out / "06_train").mkdir()
        (out / "06_train" / "train.json").write_text("{}")

    def extracted(config, folder):
        (out / "07_extract").mkdir()
        (out / "07_extract" / "neighbours.csv").write_text("product_id\n")
        return {}

    monkeypatch.setattr(prod2vec, "step_train", trained)
    monkeypatch.setattr(prod2vec, "step_extract", extracted)
    config = P2VConfig(data_dir=str(folder), min_count=1)
    run_prod2vec(config, out)
    finished = _contents(out)
    shutil.move(folder, tmp_path / "moved")
    with pytest.raises(DataError, match="does not exist"):
        run_prod2vec(config, out)
    assert _contents(out) == finished
    shutil.move(tmp_path / "moved", folder)
    (folder / "products.csv").write_text("product_id,name\n1,x\n")
    with pytest.raises(DataError, match="products.csv: missing column 'product_name'"):
        run_prod2vec(config, out)
    assert _contents(out) == finished
    write_baskets(data, folder)  # the files as they were read: written again, the same bytes
    assert run_prod2vec(config, out)["steps"]["ran"] == ["branch"]
    assert _contents(out) == finished
    write_baskets(make_baskets(n_orders=60, n_products=20, n_aisles=2, n_departments=1), folder)
    assert run_prod2vec(config, out)["steps"]["ran"] == ["preprocess", "quality", "branch", "train", "extract"]


def test_a_run_refused_before_any_step_finished_leaves_out_as_it_was(tmp_path):
    """A run whose data could not be read (no step finished) left prod2vec.json in --out, and the folders it made:
    --out is left as it was (an empty folder stays empty, one it made is removed); the corrected run goes there."""
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    data = make_baskets(n_orders=50, n_products=20, n_aisles=2, n_departments=1)
    folder = write_baskets(data, tmp_path / "in")
    (folder / "products.csv").write_text("product_id,name\n1,x\n")
    config = P2VConfig(data_dir=str(folder), embedding_dim=4, epochs=1, min_count=1)
    with pytest.raises(DataError, match="products.csv: missing column 'product_name'"):
        run_prod2vec(config, tmp_path / "runs" / "run")
    assert not (tmp_path / "runs").exists()
    out = tmp_path / "empty"
    out.mkdir()
    with pytest.raises(DataError, match="products.csv: missing column 'product_name'"):
        run_prod2vec(config, out)
    assert list(out.iterdir()) == []
    write_baskets(data, folder)
    assert run_prod2vec(config, out)["steps"]["ran"] == ["preprocess", "quality", "branch", "train", "extract"]


def test_run_on_workers_keeps_dasks_dashboard_port_warning_off_stderr(tmp_path, port_8787_taken):
    """`m5kit prod2vec run --workers 1` with port 8787 taken printed Dask's 4-line "Port 8787 is already in use"
    warning before its own error line (`m5kit train`, `tune` and `classify train` keep it off)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "none").mkdir()  # an empty data folder: the run fails once the cluster is up (a missing one, before)
    proc = subprocess.run([sys.executable, "-m", "m5kit", "prod2vec", "run", "--data-dir", str(tmp_path / "none"),
                           "--out", str(tmp_path / "run"), "--workers", "1"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "200",
                                            "PYTHONPATH": str(Path(__file__).parents[1])})
    assert proc.returncode == 1 and "Dask dashboard" in proc.stdout
    assert proc.stderr == f"error: orders.csv is missing from '{tmp_path / 'none'}': put Instacart's orders.csv there\n"


def test_the_run_s_table_says_how_many_rows_a_warning_names_and_where(tmp_path, monkeypatch):
    """The table's warnings row said 'empty baskets' alone: not how many, nor where the report names them."""
    from typer.testing import CliRunner

    from m5kit import prod2vec
    from m5kit.cli import app

    data = make_baskets(n_orders=100, n_products=30, n_aisles=3, n_departments=2)
    data.prior = data.prior[data.prior["order_id"] > 2]
    folder = write_baskets(data, tmp_path / "insta")
    monkeypatch.setattr(prod2vec, "step_train", lambda config, folder, params: None)
    monkeypatch.setattr(prod2vec, "step_extract", lambda config, folder: {})
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["prod2vec", "run", "--data-dir", str(folder), "--min-count", "1", "--out", "r"])
    assert result.exit_code == 0, result.output
    assert "│ empty baskets: 2 (see r/02_quality/report.json)" in result.stdout, result.stdout


def test_on_a_scheduler_the_search_runs_a_trial_per_worker(tmp_path, monkeypatch):
    """With --scheduler (and no --workers), the search kept 2 trials in flight whatever the scheduler's workers
    (`m5kit tune` runs one per worker); it now runs one per worker, or --workers at a time."""
    from distributed import LocalCluster
    from typer.testing import CliRunner

    from m5kit import prod2vec
    from m5kit.cli import app

    seen = []

    def recorded(config, out, *, client=None, n_parallel=None, progress=False, **kwargs):
        seen.append(n_parallel)
        return {"steps": {"ran": [], "already done": []}, "best": {}, "files": {},
                "quality": {"orders": 1, "rows": 2, "mean_basket": 2.0, "vocabulary": 2, "warnings": []}}

    monkeypatch.setattr(prod2vec, "run_prod2vec", recorded)
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        for extra, expected in (([], 3), (["--workers", "1"], 1)):
            result = CliRunner().invoke(app, ["prod2vec", "run", "--scheduler", cluster.scheduler_address,
                                              "--out", str(tmp_path / "run"), *extra])
            assert result.exit_code == 0, result.output
            assert seen.pop() == expected


@pytest.mark.parametrize("chunk", [0, 2.5])
def test_make_baskets_refuses_a_bad_chunk_in_one_line(chunk):
    """make_baskets(chunk=0) was Python's 'range() arg 3 must not be zero' (2.5: a TypeError); one ParamError."""
    from m5kit.errors import ParamError

    with pytest.raises(ParamError, match=f"^invalid chunk {chunk}: give a whole number of at least 1$"):
        make_baskets(10, chunk=chunk)
    assert len(make_baskets(10, chunk=3).orders) == 10


def test_a_file_that_cannot_be_opened_is_one_line(baskets, tmp_path, monkeypatch):
    """A data file without read permission was a PermissionError traceback (shown here by refusing the open, as a
    file of another user's mode 600 would: the tests may run as root, who reads anything)."""
    import builtins

    folder = write_baskets(baskets, tmp_path / "insta")
    opened = builtins.open

    def refused(file, *args, **kwargs):
        if str(file).endswith("aisles.csv"):
            raise PermissionError(13, "Permission denied", str(file))
        return opened(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refused)
    with pytest.raises(DataError, match=f"^aisles.csv in '{folder}' cannot be read \\(Permission denied\\): make it "
                                        "readable, or give another --data-dir$"):
        load_baskets(folder)


def test_preprocessing_keeps_the_rows_sorted_by_order_in_file_order(baskets, tmp_path):
    """Pre-processing saves the (order, product) rows grouped by order, each basket's products in file order,
    whether the prior file comes sorted by order (Instacart's, kept without a copy) or shuffled."""
    from dataclasses import asdict, replace

    from m5kit.prod2vec import P2VConfig, step_preprocess

    shuffled = baskets.prior.sample(frac=1.0, random_state=0).reset_index(drop=True)
    for name, prior in (("sorted", baskets.prior), ("shuffled", shuffled)):
        folder = write_baskets(replace(baskets, prior=prior), tmp_path / name)
        config = asdict(P2VConfig(data_dir=str(folder)))
        rows = np.load(step_preprocess(config, str(tmp_path / f"run-{name}")) + "/rows.npz")
        expected = prior.sort_values("order_id", kind="stable")
        np.testing.assert_array_equal(rows["order_id"], expected["order_id"].to_numpy())
        np.testing.assert_array_equal(rows["product_id"], expected["product_id"].to_numpy())
    assert not shuffled["order_id"].is_monotonic_increasing


def test_a_folder_holding_only_a_killed_writes_temp_file_takes_the_run(tmp_path):
    """A run killed as it wrote prod2vec.json leaves only a hidden .prod2vec.json.<random>.tmp: the same command was
    refused ('is not empty and holds no prod2vec run'); now it runs there and removes the file."""
    from typer.testing import CliRunner

    from m5kit.cli import app

    out = tmp_path / "run"
    out.mkdir()
    (out / ".prod2vec.json.x1y2z3ab.tmp").write_text("{")
    result = CliRunner().invoke(app, ["prod2vec", "run", "--orders", "50", "--min-count", "1", "--epochs", "1",
                                      "--embedding-dim", "4", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert (out / "prod2vec.json").exists() and not (out / ".prod2vec.json.x1y2z3ab.tmp").exists()


def test_a_diverged_loss_names_the_options_of_prod2vec_run_too(baskets):
    """The NaN-loss error named only the Python parameters lr and batch_size, which `m5kit prod2vec run` users give as
    --lr and --batch-size: it names both, as other shared messages do."""
    from m5kit.errors import ParamError

    small = baskets.prior[baskets.prior["order_id"] <= 200]
    with pytest.raises(ParamError, match=r"^prod2vec's loss became nan in epoch 1: the steps are too large for the "
                                         r"vocabulary; lower lr \(now 1e\+30\) or batch_size \(now 1024\) "
                                         r"\(`m5kit prod2vec run --lr`, --batch-size\)$"):
        Prod2Vec(embedding_dim=8, epochs=1, min_count=1, lr=1e30, random_state=0).fit(small)


@pytest.mark.parametrize("other", ["a different run", "other files"])
def test_a_different_run_s_folder_is_refused_before_a_cluster_starts(tmp_path, monkeypatch, other):
    """`m5kit prod2vec run --workers 2 --out DIR` with DIR holding a different (trained) run, or files of no run, started
    a local cluster (seconds, and a dashboard line) before refusing it: now the same line before any cluster."""
    from typer.testing import CliRunner

    import m5kit.execution.cluster
    from m5kit.cli import app
    from m5kit.prod2vec import P2VConfig

    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(m5kit.execution.cluster, "open_client", no_cluster)
    if other == "a different run":
        out = _finished_run(tmp_path / "run", P2VConfig(n_orders=50, epochs=1, min_count=1))
        said = (f"{out} holds a different prod2vec run (differs in epochs): choose another --out, or resume it with "
                "its own settings (--epochs 1)")
    else:
        out = tmp_path / "run"
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        said = f"output folder {out} is not empty and holds no prod2vec run: choose a new or empty folder"
    before = sorted(str(p) for p in out.rglob("*"))
    result = CliRunner().invoke(app, ["prod2vec", "run", "--orders", "50", "--min-count", "1", "--epochs", "2",
                                      "--workers", "2", "--out", str(out)])
    assert result.exit_code == 1 and not isinstance(result.exception, Exception), result.exception
    assert result.stderr == f"error: {said}\n" and "Dask dashboard" not in result.stdout
    assert sorted(str(p) for p in out.rglob("*")) == before


def test_a_missing_data_dir_is_refused_before_a_cluster_starts_or_the_folder_is_made(tmp_path, monkeypatch):
    """`m5kit prod2vec run --data-dir typo --workers 2` started a local cluster (seconds, a dashboard line) and wrote
    the run folder's prod2vec.json before saying the data folder does not exist: the line now comes first, and no
    run folder is left."""
    from typer.testing import CliRunner

    import m5kit.execution.cluster
    from m5kit.cli import app

    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(m5kit.execution.cluster, "open_client", no_cluster)
    for workers in ([], ["--workers", "2"]):
        result = CliRunner().invoke(app, ["prod2vec", "run", "--data-dir", str(tmp_path / "typo"), *workers,
                                          "--out", str(tmp_path / "run")])
        assert result.exit_code == 1 and not isinstance(result.exception, Exception), result.exception
        assert result.stderr == (f"error: data folder {tmp_path / 'typo'} does not exist: give the folder that holds "
                                 "Instacart's CSV files\n")
        assert not (tmp_path / "run").exists() and "Dask dashboard" not in result.stdout


def test_a_data_dir_under_home_written_with_a_tilde_is_read(tmp_path, monkeypatch):
    """--data-dir '~/insta' (quoted: the shell left the '~') was 'data folder <cwd>/~/insta does not exist', where
    train's --data-dir '~/m5' and load_m5 read the home folder's; load_baskets and the run read it too."""
    import json

    from m5kit import prod2vec
    from m5kit.prod2vec import P2VConfig, run_prod2vec

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_baskets(make_baskets(n_orders=50, n_products=20, n_aisles=2, n_departments=1), tmp_path / "home" / "insta")
    monkeypatch.chdir(tmp_path)
    assert len(load_baskets("~/insta").prior) > 0
    monkeypatch.setattr(prod2vec, "step_train", lambda config, folder, params: None)
    monkeypatch.setattr(prod2vec, "step_extract", lambda config, folder: {})
    assert run_prod2vec(P2VConfig(data_dir="~/insta", min_count=1), tmp_path / "run")["quality"]["orders"] == 50
    assert json.loads((tmp_path / "run" / "prod2vec.json").read_text())["data_dir"] == str(tmp_path / "home" / "insta")


def test_the_command_reads_and_writes_paths_written_with_a_tilde_under_home(tmp_path, monkeypatch):
    """prod2vec run --out=~/run (an '=' before it: the shell leaves the '~') wrote its run into a folder named '~' in
    the working folder; '~' is the home folder, for --out as for --data-dir."""
    from typer.testing import CliRunner

    from m5kit import prod2vec
    from m5kit.cli import app

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_baskets(make_baskets(n_orders=50, n_products=20, n_aisles=2, n_departments=1), tmp_path / "home" / "insta")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(prod2vec, "step_train", lambda config, folder, params: None)
    monkeypatch.setattr(prod2vec, "step_extract", lambda config, folder: {})
    result = CliRunner().invoke(app, ["prod2vec", "run", "--data-dir=~/insta", "--out=~/run", "--min-count", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "run" / "prod2vec.json").exists() and not (tmp_path / "~").exists()


def test_names_that_spell_a_missing_value_are_kept_as_names(tmp_path):
    """A product called 'NA', 'None' or 'null' and an aisle called 'N/A' were read as missing (NaN): their names were
    lost from the tables and the embeddings; they are kept, as written. An empty name is still missing."""
    from m5kit.prod2vec import P2VConfig, _products, step_preprocess

    data = make_baskets(n_orders=50, n_products=20, n_aisles=2, n_departments=1)
    data.products.loc[:3, "product_name"] = ["NA", "None", "null", np.nan]
    data.aisles.loc[0, "aisle"] = "N/A"
    folder = write_baskets(data, tmp_path / "in")
    loaded = load_baskets(folder)
    assert loaded.products["product_name"].iloc[:3].tolist() == ["NA", "None", "null"]
    assert loaded.products["product_name"].isna().tolist() == [False] * 3 + [True] + [False] * 16
    assert loaded.aisles["aisle"].iloc[0] == "N/A"
    step_preprocess(vars(P2VConfig(data_dir=str(folder))), str(tmp_path / "run"))  # what training reads back
    assert _products(str(tmp_path / "run"))["product_name"].iloc[:3].tolist() == ["NA", "None", "null"]


def test_the_summary_shows_a_run_folder_in_square_brackets_whole(tmp_path, monkeypatch):
    """--out 'runs [v2]/run': the summary said 'prod2vec run runs /run' and 'file (csv) runs /run/07_extract/...' (rich
    took '[v2]' for a style and dropped it); the paths are shown as given."""
    from typer.testing import CliRunner

    from m5kit import prod2vec
    from m5kit.cli import app

    monkeypatch.setattr(prod2vec, "step_train", lambda config, folder, params: None)
    monkeypatch.setattr(prod2vec, "step_extract", lambda config, folder: {"csv": f"{folder}/07_extract/embeddings.csv"})
    out = tmp_path / "runs [v2]" / "run"
    result = CliRunner().invoke(app, ["prod2vec", "run", "--orders", "50", "--min-count", "1", "--out", str(out)],
                                env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert f"prod2vec run {out}" in result.stdout and f"{out}/07_extract/embeddings.csv" in result.stdout


def test_baskets_with_text_order_ids_are_fitted():
    """A frame whose order_id is text ("o1", a UUID; pandas' object or string dtype) stopped fit and pair_loss with
    a bare TypeError (unsupported operand type(s) for -: 'str' and 'str'); a list of baskets trains the same model."""
    import pandas as pd

    baskets = [[1, 2, 3], [2, 3], [1, 3], [3, 1, 2]]
    rows = pd.DataFrame({"order_id": [f"o{i}" for i, b in enumerate(baskets) for _ in b],
                         "product_id": [p for b in baskets for p in b]}).iloc[::-1]  # not sorted by order
    expected = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, subsample=0, random_state=0).fit(baskets)
    for frame in (rows, rows.astype({"order_id": "string"})):
        model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, subsample=0, random_state=0).fit(frame)
        assert model.products_.tolist() == [1, 2, 3] and model.n_pairs_ == expected.n_pairs_
        assert np.isfinite(model.pair_loss(frame))


@pytest.mark.parametrize("seed", ["a", -1, 1.5])
def test_pair_loss_of_a_bad_random_state_is_one_param_error(seed):
    """pair_loss(X, random_state=-1) was NumPy's "expected non-negative integer" (a TypeError for "a" or 1.5), naming
    no parameter: one ParamError line, as fit says it."""
    from m5kit.errors import ParamError

    baskets = [[1, 2, 3], [2, 3], [1, 3]] * 3
    model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, subsample=0, random_state=0).fit(baskets)
    with pytest.raises(ParamError, match=r"^invalid random_state .*: give a whole number of at least 0"):
        model.pair_loss(baskets, random_state=seed)
    assert np.isfinite(model.pair_loss(baskets, random_state=None))


def test_pair_loss_and_messages_follow_the_fit_not_parameters_set_since(baskets):
    """After set_params(negatives=..., min_count=...) without a refit, pair_loss drew the new number of negatives and
    transform's error named the new min_count: both now use what the fit was made with."""
    small = baskets.prior[baskets.prior["order_id"] <= 300]
    model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, random_state=0).fit(small)
    held_out = baskets.prior[(baskets.prior["order_id"] > 300) & (baskets.prior["order_id"] <= 400)]
    loss = model.pair_loss(held_out)
    model.set_params(negatives=15, min_count=50)
    assert model.pair_loss(held_out) == loss
    with pytest.raises(DataError, match=r"bought fewer than min_count=1 times"):
        model.transform([-1])


def test_most_similar_checks_the_id_before_k_and_takes_a_0d_array():
    """most_similar(np.array(5)) was a bare 'unhashable type' TypeError, and on a vocabulary of 10 or fewer an
    unknown id with the default k=10 was refused for k before its id was named."""
    model = Prod2Vec(embedding_dim=4, epochs=1, min_count=1, subsample=0,
                     random_state=0).fit([[1, 2, 3], [3, 4, 5], [1, 5]])
    assert model.most_similar(np.array(5), k=2).equals(model.most_similar(5, k=2))
    with pytest.raises(DataError, match=r"^product 9 has no vector"):
        model.most_similar(9)


def test_baskets_mixing_numbers_and_text_ids_are_one_data_error():
    """Baskets mixing 1 and "1" turned every id into text, so the two products merged without a word (a missing id
    beside text ids became the product 'nan'); a frame of such ids was a bare TypeError."""
    with pytest.raises(DataError, match=r"^the baskets mix product ids that are numbers .* and text .*: "):
        Prod2Vec(embedding_dim=4, epochs=1, min_count=1).fit([[1, "1"], [2, 3]])
    import pandas as pd

    frame = pd.DataFrame({"order_id": [1, 1, 2, 2], "product_id": pd.Series([1, "1", 2, 3], dtype=object)})
    with pytest.raises(DataError, match=r"^the baskets mix product ids that are numbers \(1\) and text \('1'\): "):
        Prod2Vec(embedding_dim=4, epochs=1, min_count=1).fit(frame)
    with pytest.raises(DataError, match=r"^the baskets hold missing product ids"):  # was the product 'nan'
        Prod2Vec(embedding_dim=4, epochs=1, min_count=1).fit([["a", np.nan], ["b", "c", "a"]])


def test_write_baskets_keeps_hidden_tmp_files_that_are_not_its_own(baskets, tmp_path):
    """write_baskets removed every hidden '.<name>.tmp' file of the folder (a user's '.notes.txt.tmp'), taken for its
    own killed writes: only those of the basket files go now."""
    (tmp_path / ".notes.txt.tmp").write_text("mine")
    (tmp_path / f".{BASKET_FILES['orders'][0]}.4242.tmp").write_text("order_id")
    write_baskets(baskets, tmp_path)
    assert (tmp_path / ".notes.txt.tmp").read_text() == "mine"
    assert not (tmp_path / f".{BASKET_FILES['orders'][0]}.4242.tmp").exists()
