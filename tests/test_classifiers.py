"""InceptionTime and LSTM-FCN classifiers: networks, scikit-learn contract, incremental training, Dask members, CSV."""

from __future__ import annotations

import pickle
import re

import cloudpickle
import numpy as np
import pytest

from m5kit.datasets.ucr import make_shapes, parse_series_text, read_ucr_csv, write_ucr_csv
from m5kit.errors import DataError, ParamError

TINY_IT = dict(filters=2, depth=3, models=2, bottleneck=2, kernel_size=8, epochs=2, batch_size=16)
TINY_LF = dict(filters=(4, 4, 4), kernel_sizes=(5, 3, 3), hidden_size=4, epochs=2, batch_size=16)


@pytest.fixture(scope="module")
def shapes():
    """30 univariate series of length 24: sine, square and sawtooth."""
    return make_shapes(n_per_class=10, length=24, seed=0)


@pytest.fixture(scope="module")
def fitted_it(shapes):
    """A tiny 2-network InceptionTime fitted with a validation set."""
    from m5kit.models.classifiers import InceptionTimeClassifier

    X, y = shapes
    return InceptionTimeClassifier(**TINY_IT, random_state=0).fit(X, y, validation_data=(X[:9], y[:9]))


def test_make_shapes_is_reproducible():
    """The same seed gives the same labelled shapes; channels > 1 gives a 3-D array."""
    X1, y1 = make_shapes(n_per_class=3, length=16, seed=5)
    X2, y2 = make_shapes(n_per_class=3, length=16, seed=5)
    np.testing.assert_array_equal(X1, X2)
    assert y1.tolist() == y2.tolist() and sorted(set(y1.tolist())) == ["sawtooth", "sine", "square"]
    assert make_shapes(n_per_class=2, length=16, channels=2)[0].shape == (6, 16, 2)


@pytest.mark.parametrize(("kwargs", "said"), [
    ({"n_per_class": 0}, "invalid n_per_class 0: give a whole number of at least 1"),
    ({"n_per_class": 1.5}, "invalid n_per_class 1.5: give a whole number of at least 1"),
    ({"length": 0}, "invalid length 0: give a whole number of at least 1"),
    ({"channels": 0}, "invalid channels 0: give a whole number of at least 1"),
    ({"noise": -1}, "invalid noise -1: give a number >= 0"),
    ({"noise": float("nan")}, "invalid noise nan: give a number >= 0"),
    # the float32 series held inf (written so by write_shapes, then refused by training)
    ({"noise": 1e39}, "invalid noise 1e+39: the series would hold values beyond the range of 32-bit floats (about "
                      "±3.4e38): give a smaller noise, e.g. below 1e37"),
    ({"seed": -1}, "invalid seed -1: give a whole number of at least 0"),
    ({"classes": ()}, "invalid classes (): give one or more of 'sine', 'square', 'sawtooth'"),
    # the text was read letter by letter: "unknown shape(s) ['s', 'i', 'n', 'e']"
    ({"classes": "sine"}, "invalid classes 'sine': give one or more of 'sine', 'square', 'sawtooth' as a list, "
                          "e.g. ['sine']"),
])
def test_make_shapes_bad_sizes_are_one_line_errors(kwargs, said):
    """Counts, a noise or a seed make_shapes cannot use are one ParamError line (were IndexError, ValueError and
    TypeError tracebacks, or 60 series of length 0, or NaN series)."""
    with pytest.raises(ParamError) as info:
        make_shapes(**kwargs)
    assert str(info.value) == said


@pytest.mark.parametrize("n_labels", [5, 7])
def test_write_ucr_csv_refuses_labels_of_another_count(tmp_path, n_labels):
    """Fewer labels than series was an IndexError after a part was written; more were dropped silently, pairing the
    labels with the wrong series: one DataError line, and no file."""
    X, y = make_shapes(n_per_class=2, length=8)
    labels = np.resize(y, n_labels)
    with pytest.raises(DataError, match=rf"^{n_labels} labels for 6 series: give one label per series \(row of X\)$"):
        write_ucr_csv(tmp_path / "a.csv", X, labels)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("X, y, said", [
    # a text value: a bare ValueError
    ([[1.0, 2.0], [1.0, "a"]], None, "X must hold numbers, rows of one length: give the series as a 2-D array of "
                                     "numbers"),
    ([[1.0, 2.0], [1.0]], None, "X must hold numbers, rows of one length: give the series as a 2-D array of "
                                "numbers"),  # ragged: a bare ValueError
    ([[1.0, 2.0]], 5, "y must be one label per series (a list or array), got int"),  # bare TypeError (no len())
    ([[1.0, 2.0]], "a", "y must be one label per series (a list or array), got str"),
])
def test_write_ucr_csv_of_values_that_are_no_numbers_is_one_data_error(tmp_path, X, y, said):
    """write_ucr_csv of a text value, or a label that is no list, was a bare ValueError/TypeError: one DataError."""
    with pytest.raises(DataError) as caught:
        write_ucr_csv(tmp_path / "a.csv", X, y)
    assert str(caught.value) == said
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("X, y, said", [
    ([[1.0, 2.0], [3.0, np.nan]], ["a", "b"], "X[1, 1] is a missing value (NaN): the UCR CSV format holds finite "
                                              "numbers only: fill or drop missing values before writing"),
    ([[1.0, -np.inf]], None, "X[0, 1] is -inf, not a finite number: the UCR CSV format holds finite numbers only: "
                             "fill or drop missing values before writing"),
    ([[1.0, 1e300]], None, "X[0, 1] is 1e+300, beyond the range of 32-bit floats (about ±3.4e38) that "
                           "read_ucr_csv reads: scale the series down before writing"),
    ([[1.0, 2.0], [3.0, 4.0]], ["a", ""], "y[1] is an empty label: give every series a label, or drop the unlabelled "
                                          "ones before writing"),
    ([[1.0, 2.0], [3.0, 4.0]], ["a", None], "y[1] is an empty label: give every series a label, or drop the "
                                            "unlabelled ones before writing"),
])
def test_write_ucr_csv_refuses_what_read_ucr_csv_refuses(tmp_path, X, y, said):
    """write_ucr_csv wrote NaN, inf, values beyond float32 and empty labels into a file read_ucr_csv then refused:
    one DataError naming the value, and no file."""
    with pytest.raises(DataError) as caught:
        write_ucr_csv(tmp_path / "a.csv", np.array(X), y)
    assert str(caught.value) == said
    assert list(tmp_path.iterdir()) == []


def test_write_ucr_csv_pairs_labels_with_series_by_position(tmp_path):
    """y as a pandas Series with the index train_test_split leaves was looked up by label: a KeyError traceback, or
    (an index within range) the labels of other rows written beside the series: the i-th label goes with the i-th
    series, as X's rows are taken in order."""
    import pandas as pd

    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    for index in ([10, 11, 12], [2, 0, 1]):
        write_ucr_csv(tmp_path / "a.csv", X, pd.Series(["a", "b", "c"], index=index))
        X_read, y_read = read_ucr_csv(tmp_path / "a.csv")
        assert y_read.tolist() == ["a", "b", "c"] and np.array_equal(X_read, X)


def test_write_ucr_csv_to_a_folder_or_under_a_file_is_one_data_error(tmp_path):
    """write_ucr_csv to a folder, or to a path under a file, was a bare IsADirectoryError / NotADirectoryError: one
    DataError line each, and nothing written."""
    X, y = make_shapes(n_per_class=2, length=8)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=rf"^{tmp_path} is a folder: give the path of a CSV file to write"):
        write_ucr_csv(tmp_path, X, y)
    with pytest.raises(DataError, match=rf"^cannot write {tmp_path}/notes.txt/a.csv: {tmp_path}/notes.txt is a file"):
        write_ucr_csv(tmp_path / "notes.txt" / "a.csv", X, y)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("args, error, said", [
    ((["a"], None, [[0.5, 0.5]]), ParamError,  # a bare TypeError ('NoneType' object is not iterable)
     "predictions_csv got probabilities but no classes: give classes, the class of each probability column"),
    ("ab", ParamError, "invalid labels 'ab': give a list of labels, e.g. ['ab']"),  # a row per letter
    ((["a", "b"], ["a", "b"], [[0.5, 0.5]]), DataError,  # the row of 'b' was dropped silently
     "probabilities has shape (1, 2) for 2 labels and 2 classes: give one row per label and one column per class"),
    ((["a"], ["a", "b", "c"], [[0.5, 0.5]]), DataError,  # the header named 3 classes over rows of 2
     "probabilities has shape (1, 2) for 1 labels and 3 classes: give one row per label and one column per class"),
])
def test_predictions_csv_bad_input_is_one_line_error(args, error, said):
    """predictions_csv without classes, of one text, or of probabilities of another shape is one m5kit error line."""
    from m5kit.datasets.ucr import predictions_csv

    with pytest.raises(error) as caught:
        predictions_csv(*(args if isinstance(args, tuple) else (args,)))
    assert str(caught.value) == said


@pytest.mark.parametrize("text, said", [
    (b"a,1,2\n", "the input must be text (a str), got bytes: decode it first, e.g. data.decode('utf-8')"),
    (None, "the input must be text (a str), got NoneType: give the CSV text of the series"),
])
def test_parse_series_text_of_bytes_or_none_is_one_data_error(text, said):
    """parse_series_text(b"...") or (None) was a bare TypeError: one DataError line saying what to give."""
    with pytest.raises(DataError) as caught:
        parse_series_text(text)
    assert str(caught.value) == said


@pytest.mark.parametrize("kwargs, said", [
    ({"labels": "no"}, "invalid labels 'no': give False or True"),  # the first column was read as labels
    ({"training": "no"}, "invalid training 'no': give False or True"),  # the labels were checked as training ones
])
def test_read_ucr_csv_switches_given_as_text_are_one_param_error(tmp_path, kwargs, said):
    """read_ucr_csv(labels='no') / (training='no') were read as true: one ParamError line."""
    from m5kit.datasets.ucr import parse_series_text

    write_ucr_csv(tmp_path / "a.csv", [[1.0, 2.0], [3.0, 4.0]], ["a", "b"])
    with pytest.raises(ParamError, match=f"^{said}$"):
        read_ucr_csv(tmp_path / "a.csv", **kwargs)
    if "labels" in kwargs:
        with pytest.raises(ParamError, match=f"^{said}$"):
            parse_series_text("a,1,2\n", **kwargs)


def test_csv_round_trip(tmp_path, shapes):
    """Series written in the UCR format read back with their labels as written."""
    X, y = shapes
    write_ucr_csv(tmp_path / "a.csv", X, y)
    X2, y2 = read_ucr_csv(tmp_path / "a.csv", training=True)
    np.testing.assert_allclose(X2, X, rtol=1e-6)
    assert y2.tolist() == y.tolist()


@pytest.mark.parametrize("text, words", [
    ("", "no rows"),
    ("label,t1,t2\na,1,2\nb,3,4\n", "header row"),
    ("a,1,2,3\nb,1,2\n", "same length"),
    ("a,1,,3\nb,1,2,3\n", "missing value"),
    ("a,1,NaN,3\nb,1,2,3\n", "missing value"),
    ("a,1,x,3\nb,1,2,3\n", "not a number"),
    ("a,1,1e39,3\nb,1,2,3\n", "line 1, column 3 holds '1e39', beyond the range of 32-bit floats"),
    # past float64's range too (they were "'1e400', not a finite number")
    ("a,1,1e400,3\nb,1,2,3\n", "line 1, column 3 holds '1e400', beyond the range of 32-bit floats"),
    ("a,1,2,3\nb,1,-" + "9" * 400 + ",3\n", "line 2, column 3 holds '-999.*', beyond the range of 32-bit floats"),
    ("a,1,-inf,3\nb,1,2,3\n", "line 1, column 3 holds '-inf', not a finite number"),
    # pandas' to_csv(index=False) header: column numbers after "label" (it trained a class "label")
    ("label," + ",".join(map(str, range(8))) + "\na" + ",1" * 8 + "\nb" + ",2" * 8 + "\na" + ",3" * 8 + "\n",
     "line 1 looks like a header row .*remove it"),
    # an empty label made a class "" of the unlabelled series
    ("a,1,2\n,3,4\nb,5,6\n", "line 2 has no label .*give every series a label first"),
    # to_csv's default writes the index too: an empty first cell (it said "column 2 holds 'label', not a number")
    (",label," + ",".join(map(str, range(8))) + "\n0,a" + ",1" * 8 + "\n1,b" + ",2" * 8 + "\n",
     r"line 1 looks like the header row of a table written with its index .*index=False"),
    # the UCR archive's .tsv, a spreadsheet's semicolons (they were "no series values after the label")
    ("1\t0.5\t0.7\n2\t0.1\t0.2\n", "line 1 has values separated by tabs: give the label first"),
    ("a;0,5;0,7\nb;0,1;0,2\n", "line 1 has values separated by semicolons: give .* by commas, with a decimal point"),
    ("a;0.5;0.7\nb;0.1;0.2\n", "line 1 has values separated by semicolons"),
    # a stray quote opens a field that runs past csv's field size limit (it was a traceback, and 500 from serve)
    ('a,1,2\nb,3,4\n"a,1,2\n' + "b,1,2\n" * 30_000, r"unreadable CSV from line 3 \(.*stray double quote"),
    # a stray quote that a later quote (or the end) closes (it was "line 2 has 0 values but line 1 has 2")
    ('x,1,2\n"a,1,2\nb,3,4\n', r'line 2 has a quoted field that runs on over the next lines: .*stray double quote'),
    ('x,1,2\ny,"3,4\nz,5,6\n', r'line 2 has a quoted field that runs on over the next lines'),
    # UTF-16 without a byte-order mark reads as UTF-8 with NULs (it was "line 1 looks like a header row")
    ("a,1,2\nb,3,4\na,5,6\n".encode("utf-16-le").decode(), "holds NUL characters, as text saved as UTF-16"),
])
def test_csv_errors_are_one_line(text, words):
    """Malformed CSV (header, ragged rows, missing or non-numeric values) is one DataError line."""
    with pytest.raises(DataError, match=words) as info:
        parse_series_text(text, labels=True)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("labels", [True, False])
def test_values_separated_by_spaces_are_named_so(labels):
    """The UCR archive's older .txt files separate values by spaces: it said 'no series values after the label'
    (labelled) or "column 1 holds '1.0000000e+00  -7.8e', not a number"; it says spaces, as for tabs. A label with a
    space is still a label."""
    text = "  1.0000000e+00  -7.8e-01  3.2e-01\n  2.0000000e+00  1.1e-01  2.0e-01\n"
    with pytest.raises(DataError, match="^the input: line 1 has values separated by spaces: give .*separated by commas"):
        parse_series_text(text, labels=labels)
    assert parse_series_text("class A,1,2\nclass B,3,4\n", labels=True)[1].tolist() == ["class A", "class B"]


def test_a_row_of_empty_fields_is_missing_values_unless_only_such_rows_follow():
    """A row of empty fields between series (pandas' to_csv of a row of NaN) is refused as missing values (it was
    skipped: every later prediction moved up one row); trailing ones, and blank lines, are still skipped."""
    with pytest.raises(DataError, match="line 2, column 1 holds a missing value"):
        parse_series_text("1,2\n,\n3,4\n")
    X, _ = parse_series_text("1,2\n\n3,4\n,\n , \n\n")
    assert X.tolist() == [[1, 2], [3, 4]]


def test_a_header_of_column_numbers_is_refused_and_a_series_like_it_is_not():
    """An unlabelled file whose first row is pandas' header 0..n-1 is refused (it was predicted as one more series);
    a labelled row 0..n-1 whose label other rows have is a series."""
    counting = ",".join(map(str, range(8)))
    with pytest.raises(DataError, match="line 1 looks like a header row"):
        parse_series_text(counting + "\n" + "0.5," * 7 + "0.5\n")
    with pytest.raises(DataError, match="line 2 looks like a header row"):
        parse_series_text("\n" + ",".join(map(str, range(1, 9))) + "\n" + "0.5," * 7 + "0.5\n")
    X, y = parse_series_text(f"a,{counting}\nb,{counting}\na,{counting}\n", labels=True)  # "a" is a class
    assert y.tolist() == ["a", "b", "a"] and X[0].tolist() == list(range(8))
    assert parse_series_text("0,1,2,3,4,5,6,7.5\n")[0].tolist() == [[0, 1, 2, 3, 4, 5, 6, 7.5]]
    assert parse_series_text("0,1,2,3\n")[0].tolist() == [[0, 1, 2, 3]]  # a short toy series
    with pytest.raises(DataError, match="written with its index"):  # it said "column 1 holds a missing value"
        parse_series_text("," + counting + "\n0," + "0.5," * 7 + "0.5\n")


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_label(tmp_path, fitted_it, shapes):
    """A file or request body starting with a UTF-8 byte-order mark (Excel's "CSV UTF-8") reads as without it (the
    mark was glued to the first label, making a class of its own, and made a body's first value "not a number")."""
    from m5kit.serving import invoke

    (tmp_path / "t.csv").write_bytes(b"\xef\xbb\xbfa,1,2\nb,3,4\na,5,6\n")
    assert read_ucr_csv(tmp_path / "t.csv", training=True)[1].tolist() == ["a", "b", "a"]
    X, _ = shapes
    body = ",".join(map(str, X[0].tolist())).encode()
    assert invoke(fitted_it, b"\xef\xbb\xbf" + body, "text/csv") == invoke(fitted_it, body, "text/csv")


@pytest.mark.parametrize("kwargs, said", [
    ({"body": "0.1,0.5\n"}, "invalid body of type str: give the request body as bytes, e.g. text.encode()"),
    ({"proba": "no"}, "invalid proba 'no': give False or True"),  # read as true: the probabilities came too
])
def test_invoke_of_a_text_body_or_proba_is_one_param_error(fitted_it, kwargs, said):
    """invoke(clf, "0.1,...") was a bare AttributeError ('str' object has no attribute 'decode'), proba='no' was read
    as true: one ParamError line each."""
    from m5kit.errors import ParamError
    from m5kit.serving import invoke

    kwargs = {"body": b"0.1,0.5\n", **kwargs}
    with pytest.raises(ParamError) as caught:
        invoke(fitted_it, kwargs.pop("body"), "text/csv", **kwargs)
    assert str(caught.value) == said


def test_invoke_without_a_content_type_reads_csv_as_the_server_does(fitted_it, shapes):
    """invoke(clf, body, None) (Flask's request.content_type when the header is missing) reads the body as CSV, as the
    server does a request without Content-Type (it was a bare AttributeError: 'NoneType' object has no attribute
    'split')."""
    from m5kit.serving import invoke

    body = ",".join(map(str, shapes[0][0].tolist())).encode()
    assert invoke(fitted_it, body, None) == invoke(fitted_it, body, "text/csv")


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_csv_rows_may_end_in_any_line_ending(ending, fitted_it, shapes):
    """Rows ended by a carriage return alone (old Mac tools) read as rows, in a file as in a request body (a body's
    were a csv.Error: 500 from serve)."""
    from m5kit.serving import invoke

    X, y = parse_series_text(ending.join(["a,1,2", "b,3,4", "a,5,6"]) + ending, labels=True)
    assert y.tolist() == ["a", "b", "a"] and X.tolist() == [[1, 2], [3, 4], [5, 6]]
    rows = [",".join(map(str, row.tolist())) for row in shapes[0][:2]]
    expected = invoke(fitted_it, "\n".join(rows).encode(), "text/csv")
    assert invoke(fitted_it, ending.join(rows).encode(), "text/csv") == expected


@pytest.mark.parametrize("y", [[0.731, 0.5, 0.731, 0.5, 0.2, 0.2], ["0.731", "0.5", "0.731", "0.5", "0.2", "1"]])
def test_continuous_labels_are_refused(y, shapes):
    """Labels that are measurements (0.731: floats not whole, or such numbers as text) made one class per distinct
    value, as scikit-learn's classifiers refuse ("Unknown label type: continuous"); one DataError line says so."""
    from m5kit.datasets.ucr import check_labels
    from m5kit.models.classifiers import LSTMFCNClassifier

    said = "the training data has labels that are not whole numbers (0.2, 0.5, ...), measurements rather than classes"
    with pytest.raises(DataError, match=r"^" + re.escape(said)):
        check_labels(np.array(y))
    if not isinstance(y[0], str):
        with pytest.raises(DataError, match=re.escape(said)):
            LSTMFCNClassifier(**TINY_LF).fit(shapes[0][:6], np.array(y))
        with pytest.raises(DataError, match="^classes has labels that are not whole numbers"):
            LSTMFCNClassifier(**TINY_LF).partial_fit(shapes[0][:6], np.array(y), classes=[0.2, 0.5, 0.731])
    check_labels(np.array([1.0, 2.0, 1.0, 2.0]))  # whole-number floats are classes
    check_labels(np.array(["1.0", "-2", "1.0", "-2"]))


@pytest.mark.parametrize("y, said", [(["x", "x"], "a single class, 'x': give"), ([1, 1, 1], "a single class, 1: give")])
def test_a_single_class_is_named_as_written(y, said):
    """The single class is named as the user wrote it (the line said "('x' if any)", "(np.int64(1) if any)")."""
    from m5kit.datasets.ucr import check_labels

    with pytest.raises(DataError) as info:
        check_labels(np.array(y))
    assert str(info.value) == f"the training data has {said} series of at least two classes"


@pytest.mark.parametrize("y", [None, "ab", 5])
def test_check_labels_of_no_list_says_so(y):
    """check_labels(None) said "has a single class, None" (and "ab" a single class 'ab'): the labels are not a list,
    and the line says so."""
    from m5kit.datasets.ucr import check_labels

    with pytest.raises(DataError) as info:
        check_labels(y)
    assert str(info.value) == (f"the training data's labels must be a list or array of one label per series, got "
                               f"{type(y).__name__}: give the class of each series")


def test_partial_fit_refuses_other_classes_after_the_first_call(shapes):
    """A later partial_fit with classes= other than the first call's is one DataError (a new class was silently
    ignored); the same classes, in any order, or none, train on."""
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = shapes
    clf = LSTMFCNClassifier(**TINY_LF, random_state=0).partial_fit(X, y, classes=["square", "sine", "sawtooth"])
    with pytest.raises(DataError, match=r"classes \['circle', 'sawtooth', 'sine', 'square'\] differ from those of the "
                                        r"first call, \['sawtooth', 'sine', 'square'\]"):
        clf.partial_fit(X, y, classes=["sawtooth", "sine", "square", "circle"])
    clf.partial_fit(X, y, classes=["sine", "square", "sawtooth"]).partial_fit(X, y)
    assert clf.n_epochs_ == 3


def test_partial_fit_with_one_class_names_it_as_written(shapes):
    """partial_fit(classes=["a"]) names the class as written (it said "[np.str_('a')]")."""
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, _ = shapes
    with pytest.raises(DataError) as info:
        LSTMFCNClassifier(**TINY_LF).partial_fit(X[:2], ["a", "a"], classes=["a"])
    assert str(info.value).startswith("classes ['a'] has fewer than two classes")


@pytest.mark.parametrize("text, words", [("a,1,2\na,3,4\n", "single class"), ("a,1,2\nb,3,4\n", "more rows than classes"),
                                         ("1,1,2\n1.0,3,4\n2,5,6\n2,7,8\n", "the labels '1' and '1.0', one number written 2 ways")])
def test_training_csv_needs_classes(tmp_path, text, words):
    """A training file with a single class, no more rows than classes, or one number written as two labels ("1" and
    "1.0": they were two classes) is refused."""
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(DataError, match=words):
        read_ucr_csv(tmp_path / "t.csv", training=True)


def test_networks_are_seeded_and_named():
    """A network builder gives the same named layers and weights for a seed, other weights for another."""
    from m5kit.models.networks import build_inception_time, build_lstm_fcn

    a = build_inception_time((24, 1), 3, filters=2, depth=3, bottleneck=2, kernel_size=8, seed=1)
    b = build_inception_time((24, 1), 3, filters=2, depth=3, bottleneck=2, kernel_size=8, seed=1)
    c = build_inception_time((24, 1), 3, filters=2, depth=3, bottleneck=2, kernel_size=8, seed=2)
    assert [layer.name for layer in a.layers] == [layer.name for layer in b.layers]
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert not all(np.array_equal(u, v) for u, v in zip(a.get_weights(), c.get_weights()))
    names = {layer.name for layer in a.layers}
    assert "inception1_bottleneck" not in names and "inception2_bottleneck" in names  # univariate: no 1st bottleneck
    assert {"inception1_conv8", "inception1_conv4", "inception1_conv2", "shortcut3_add"} <= names
    assert not any(getattr(layer, "use_bias", False) for layer in a.layers if layer.name.startswith(("inception", "shortcut")))
    lf = build_lstm_fcn((24, 2), 2, num_layers=2, filters=(4, 4, 4), seed=1)
    assert lf.get_layer("dimension_shuffle").output.shape[1:] == (2, 24)
    assert {"lstm1", "lstm2_dropout", "conv3_bn", "concat", "softmax"} <= {layer.name for layer in lf.layers}
    assert a.optimizer.built and lf.optimizer.built


def test_bad_parameters_raise_param_error(shapes):
    """Bad hyperparameters are a ParamError naming the parameter, before any training."""
    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier

    X, y = shapes
    with pytest.raises(ParamError, match="epochs"):
        InceptionTimeClassifier(epochs=0).fit(X, y)
    with pytest.raises(ParamError, match="dropout"):
        LSTMFCNClassifier(dropout=1.0).fit(X, y)
    with pytest.raises(ParamError, match="kernel"):
        LSTMFCNClassifier(filters=(4, 4), kernel_sizes=(3,)).fit(X, y)
    with pytest.raises(ParamError, match="restore_best 'best'"):
        LSTMFCNClassifier(restore_best="best").fit(X, y)
    with pytest.raises(ParamError, match="restore_best='valid_loss' needs validation data"):
        InceptionTimeClassifier(restore_best="valid_loss").fit(X, y)


@pytest.mark.parametrize("param", ["precise_bn", "warm_start", "progress"])
def test_switches_given_as_text_are_one_param_error(shapes, param):
    """precise_bn / warm_start / progress given as the text 'False' are a ParamError before training (were read as
    true: progress='False' showed the bar)."""
    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier

    X, y = shapes
    for clf in (InceptionTimeClassifier(**TINY_IT), LSTMFCNClassifier(**TINY_LF)):
        with pytest.raises(ParamError, match=f"^invalid {param} 'False': give False or True$"):
            clf.set_params(**{param: "False"}).fit(X, y)
        with pytest.raises(ParamError, match=f"^invalid {param} 'False'"):
            clf.partial_fit(X, y)


def test_callbacks_that_are_no_list_are_one_param_error(shapes):
    """callbacks=EarlyStopping() (one callback, not in a list) was a bare TypeError from the fit: one ParamError line
    before training."""
    import keras

    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier

    X, y = shapes
    stop = keras.callbacks.EarlyStopping()
    for clf in (InceptionTimeClassifier(**TINY_IT), LSTMFCNClassifier(**TINY_LF)):
        with pytest.raises(ParamError, match=r"^invalid callbacks <keras.*EarlyStopping.*>: give a list of Keras "
                                             r"callbacks, e\.g\. \[EarlyStopping\(\)\], or None$"):
            clf.set_params(callbacks=stop).fit(X, y)


def test_a_failed_refit_keeps_the_classes_and_shape_of_the_last_fit(shapes):
    """A refit on other labels and length that fails (a bad validation label) keeps the last fit's classes and series
    shape (the old networks' predictions came back under the new labels, and its series were refused)."""
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = shapes
    clf = LSTMFCNClassifier(**TINY_LF, random_state=0).fit(X, y)
    expected = clf.predict(X)
    renamed = np.array([{"sine": "a", "square": "b", "sawtooth": "c"}[label] for label in y])
    with pytest.raises(DataError, match="y_valid has label"):
        clf.fit(X[:, :16], renamed, validation_data=(X[:3, :16], np.array(["zzz", "a", "b"])))
    assert clf.classes_.tolist() == ["sawtooth", "sine", "square"] and clf.series_length_ == X.shape[1]
    np.testing.assert_array_equal(clf.predict(X), expected)


def test_probabilities_sum_to_one_as_log_loss_wants(fitted_it, shapes):
    """predict_proba's rows sum to 1 in float64, so scikit-learn's log_loss (scoring="neg_log_loss" in a search)
    scores without warning (the float32 softmax's sums were off by ~1e-7: "The y_prob values do not sum to one")."""
    import warnings

    from sklearn.metrics import log_loss

    X, y = shapes
    proba = fitted_it.predict_proba(X)
    assert proba.dtype == np.float64 and np.abs(proba.sum(axis=1) - 1.0).max() < 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_loss(y, proba, labels=fitted_it.classes_)


@pytest.mark.parametrize("kernel_size", [1, 3])
def test_inception_time_kernel_size_below_4_is_a_param_error(shapes, kernel_size):
    """kernel_size below 4 (its half and quarter collide) is a ParamError, not Keras' duplicate layer name error."""
    from m5kit.models.classifiers import InceptionTimeClassifier

    X, y = shapes
    with pytest.raises(ParamError, match=f"invalid kernel_size {kernel_size}: give a whole number of at least 4"):
        InceptionTimeClassifier(**{**TINY_IT, "kernel_size": kernel_size}).fit(X, y)


def test_inception_time_fits_string_labels_with_history(fitted_it, shapes):
    """A fitted ensemble predicts the string labels it was given, averages its networks, and keeps a history."""
    X, y = shapes
    clf = fitted_it
    assert clf.classes_.tolist() == ["sawtooth", "sine", "square"] and len(clf.members_) == 2
    proba = clf.predict_proba(X)
    assert proba.shape == (30, 3) and np.allclose(proba.sum(axis=1), 1.0)
    from m5kit.models.classifiers import _predict_members, _znorm

    each = [_predict_members([m], _znorm(X[:, :, None])) for m in clf.members_]
    np.testing.assert_allclose(proba, (each[0] + each[1]) / 2, rtol=1e-6)
    assert set(clf.predict(X)) <= set(clf.classes_) and 0.0 <= clf.score(X, y) <= 1.0
    assert set(clf.history_) == {"train_loss", "train_accuracy", "valid_loss", "valid_accuracy"}
    assert all(len(v) == 2 for v in clf.history_.values())


def test_fitted_classifier_pickles_and_clones(fitted_it, shapes):
    """pickle and cloudpickle give the same probabilities; clone gives an unfitted copy with the same params."""
    from sklearn.base import clone

    X, _ = shapes
    expected = fitted_it.predict_proba(X)
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, pickle.loads)):
        np.testing.assert_allclose(loads(dumps(fitted_it)).predict_proba(X), expected, rtol=1e-6)
    copy = clone(fitted_it)
    assert copy.get_params() == fitted_it.get_params() and not hasattr(copy, "members_")


def test_unfitted_predict_raises_not_fitted_error(shapes):
    """predict and score before fit raise scikit-learn's NotFittedError (predict raised AttributeError: classes_)."""
    from sklearn.exceptions import NotFittedError

    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier

    X, y = shapes
    for clf in (InceptionTimeClassifier(), LSTMFCNClassifier()):
        with pytest.raises(NotFittedError):
            clf.predict(X)
        with pytest.raises(NotFittedError):
            clf.score(X, y)


def test_predict_refuses_other_shapes(fitted_it, shapes):
    """Series of another length, non-numeric or missing values are one DataError line."""
    X, _ = shapes
    with pytest.raises(DataError, match="length 20"):
        fitted_it.predict(X[:, :20])
    with pytest.raises(DataError, match="missing"):
        fitted_it.predict(np.where(np.arange(24) == 3, np.nan, X))
    with pytest.raises(DataError, match="non-numeric"):
        fitted_it.predict([["a"] * 24])


def test_a_missing_value_of_a_nullable_frame_is_named_missing(fitted_it, shapes):
    """A frame of pandas' nullable floats (convert_dtypes(), read_csv(dtype_backend="numpy_nullable")) holds a gap as
    pd.NA: predict said "X holds non-numeric values (or rows of different lengths)", not what it is; the same frame
    without a gap predicts as its NumPy array."""
    import pandas as pd

    X, _ = shapes
    frame = pd.DataFrame(X).astype("Float64")
    np.testing.assert_array_equal(fitted_it.predict_proba(frame), fitted_it.predict_proba(X))
    frame.iloc[2, 5] = pd.NA
    with pytest.raises(DataError, match=r"^X has missing or infinite values \(first in series 2\)"):
        fitted_it.predict(frame)
    with pytest.raises(DataError, match="non-numeric"):
        fitted_it.predict(pd.DataFrame([["a"] * X.shape[1]]))


def test_complex_or_sparse_series_are_named_so(fitted_it, shapes):
    """Complex series lost their imaginary parts (NumPy's ComplexWarning, then a fit or prediction of the real parts);
    a SciPy sparse matrix was called "non-numeric values (or rows of different lengths)". Each is one DataError line
    saying what it is and what to give."""
    import scipy.sparse

    X, y = shapes
    with pytest.raises(DataError, match=r"^X holds complex numbers: give real-valued series"):
        fitted_it.predict(X + 1j)
    with pytest.raises(DataError, match=r"^X is a SciPy sparse matrix: give a dense array \(X\.toarray\(\)\)"):
        fitted_it.predict(scipy.sparse.csr_matrix(X))
    from m5kit.models.classifiers import LSTMFCNClassifier

    with pytest.raises(DataError, match="X_valid holds complex numbers"):
        LSTMFCNClassifier(**TINY_LF).fit(X, y, validation_data=(X.astype(complex), y))


def test_values_beyond_float32_are_named_as_such(fitted_it, shapes):
    """Finite values too large for float32 are one DataError saying so, with no overflow warning (they used to be
    called "missing or infinite", after a RuntimeWarning)."""
    import warnings

    X, _ = shapes
    big = X.astype(np.float64)
    big[2, 5] = 1e39
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"beyond the range of 32-bit floats \(about ±3.4e38; first in series 2\)"):
            fitted_it.predict(big)
        with pytest.raises(DataError, match="missing or infinite"):
            fitted_it.predict(np.where(big > 1e38, np.inf, big))
        with pytest.raises(DataError, match=r"beyond the range of 32-bit floats"):  # it was OverflowError
            fitted_it.predict([[10**400] + [0.5] * (X.shape[1] - 1)])


def test_series_of_values_past_1e19_are_normalised_as_the_others(fitted_it, shapes):
    """A series of values so large that their squares pass float32's range is z-normalised as the same series
    scaled down, with no overflow warning (its standard deviation was inf: it became zeros, predicted as a constant
    series, after a RuntimeWarning)."""
    import warnings

    X, _ = shapes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(fitted_it.predict_proba(X[:3] * 1e30), fitted_it.predict_proba(X[:3]),
                                   rtol=1e-4, atol=1e-5)


def test_constant_series_are_zeros_whatever_their_value_and_small_ones_are_not_constant(fitted_it, shapes):
    """A constant series is classified as zeros whatever its value (float32's rounding of its mean, a std of 6e-5 for
    1000.1, was scaled up to +-1, so it was classified by its rounding), and a series of amplitude 1e-9 as the same
    series scaled up (its std, under 1e-8, made it constant)."""
    from m5kit.models.classifiers import _znorm

    X, _ = shapes
    for length in (24, 100, 1000):
        for value in (1000.1, 0.1, 3.3, 123456.7):
            assert not _znorm(np.full((1, length), value, dtype=np.float32)).any(), (length, value)
    flat = np.full((2, X.shape[1]), 1000.1, dtype=np.float32)
    np.testing.assert_allclose(fitted_it.predict_proba(flat), fitted_it.predict_proba(np.zeros_like(flat)), atol=1e-6)
    np.testing.assert_allclose(fitted_it.predict_proba(X[:3] * 1e-9), fitted_it.predict_proba(X[:3]),
                               rtol=1e-4, atol=1e-5)


def test_small_swings_on_a_high_level_are_normalised_not_flattened():
    """A series swinging by +-4 around 1e6 (float32 holds it to 0.06) is normalised to a spread of 1, as the same
    swings around 0 (a spread under 64 float32 epsilons of its level made it a constant series of zeros)."""
    from m5kit.models.classifiers import _znorm

    swings = (4 * np.sin(np.arange(64) / 3)).astype(np.float32)[None, :]
    high = _znorm(swings + np.float32(1e6))
    np.testing.assert_allclose(high.std(), 1.0, rtol=1e-3)
    np.testing.assert_allclose(high, _znorm(swings), atol=0.02)


def test_lstm_fcn_warm_start_partial_fit_and_unseen_labels(shapes):
    """warm_start continues training, partial_fit adds one epoch, and new labels are refused by name."""
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = shapes
    clf = LSTMFCNClassifier(**TINY_LF, random_state=1).fit(X, y)
    first = clf.members_[0]
    clf.set_params(warm_start=True).fit(X[:15], y[:15])
    assert clf.n_epochs_ == 4 and len(clf.history_["train_loss"]) == 4 and clf.members_[0] is first
    clf.partial_fit(X, y)
    assert clf.n_epochs_ == 5
    with pytest.raises(DataError, match="'circle'"):
        clf.partial_fit(X[:3], ["circle", "sine", "oval"])
    assert clf.n_epochs_ == 5


def test_warm_start_refuses_another_architecture(shapes):
    """A warm start or partial_fit with parameters that change the networks' layers is a ParamError naming them (it
    used to train the old networks and report the new parameters); the learning rate may change."""
    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier

    X, y = shapes
    clf = LSTMFCNClassifier(**{**TINY_LF, "epochs": 1}, random_state=0).fit(X, y)
    for change, words in (({"hidden_size": 6}, "hidden_size=4 with hidden_size=6"),
                          ({"filters": (8, 4, 4)}, "filters=4,4,4 with filters=8,4,4"), ({"dropout": 0.5}, "dropout")):
        with pytest.raises(ParamError, match=words):
            clf.set_params(warm_start=True, **change).fit(X, y)
        clf.set_params(**{k: LSTMFCNClassifier(**TINY_LF).get_params()[k] for k in change})
    assert clf.n_epochs_ == 1
    clf.set_params(lr=0.01).partial_fit(X, y)
    assert clf.n_epochs_ == 2
    it = InceptionTimeClassifier(**{**TINY_IT, "models": 1, "epochs": 1}, random_state=0).fit(X, y)
    with pytest.raises(ParamError, match="depth=3 with depth=4"):
        it.set_params(depth=4).partial_fit(X, y)


@pytest.mark.parametrize("missing", [None, np.nan])
def test_missing_labels_are_one_data_error(shapes, missing):
    """A None or NaN label is a DataError naming the series, in fit and in validation data (NaN used to be "never
    seen when the model was first fitted", None a TypeError from sorting)."""
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = shapes
    labels = np.where(y == "sine", 1.0, 2.0).astype(object if missing is None else float)
    labels[4] = missing
    clf = LSTMFCNClassifier(**{**TINY_LF, "epochs": 1}, random_state=0)
    with pytest.raises(DataError, match="y has missing labels .* first for series 4"):
        clf.fit(X, labels)
    with pytest.raises(DataError, match="y_valid has missing labels"):
        clf.fit(X, np.where(y == "sine", 1.0, 2.0), validation_data=(X, labels))


def test_a_missing_label_of_a_pandas_string_column_is_one_data_error(shapes):
    """A pandas "string" column (read_csv(dtype_backend="numpy_nullable"), convert_dtypes()) holds a missing label as
    pd.NA: fit stopped with a bare TypeError (boolean value of NA is ambiguous), not the missing-label line."""
    import pandas as pd

    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = shapes
    labels = pd.Series(y, dtype="string").mask(np.arange(len(y)) == 4)
    clf = LSTMFCNClassifier(**{**TINY_LF, "epochs": 1}, random_state=0)
    with pytest.raises(DataError, match="y has missing labels .* first for series 4"):
        clf.fit(X, labels)
    with pytest.raises(DataError, match="y_valid has missing labels"):
        clf.fit(X, y, validation_data=(X, labels))


def test_labels_of_mixed_types_are_one_data_error(shapes):
    """Labels mixing text and numbers are a DataError naming the types (they were a TypeError from np.unique)."""
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = shapes
    labels = np.array([str(label) if i % 2 else i for i, label in enumerate(y)], dtype=object)
    with pytest.raises(DataError, match=r"y mixes labels of types that do not sort together \(int, str\)"):
        LSTMFCNClassifier(**{**TINY_LF, "epochs": 1}).fit(X, labels)


def test_labels_outside_the_classes_of_a_first_fit_are_not_called_unseen_by_an_earlier_fit(shapes):
    """In a first fit, validation labels that y lacks (or y's labels outside partial_fit's classes=) are a DataError
    that says so; it used to say they were "never seen when the model was first fitted" and to fit a new model."""
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = shapes
    keep = y != "square"
    clf = LSTMFCNClassifier(**{**TINY_LF, "epochs": 1}, random_state=0)
    with pytest.raises(DataError, match="y_valid has label\\(s\\) outside the classes being fitted: 'square'") as info:
        clf.fit(X[keep], y[keep], validation_data=(X, y))
    assert "first fitted" not in str(info.value)
    with pytest.raises(DataError, match="y has label\\(s\\) outside the classes being fitted: 'square'"):
        clf.partial_fit(X, y, classes=["sawtooth", "sine"])


def test_restore_best_keeps_the_weights_of_the_best_epoch(shapes):
    """restore_best='train_loss' (the default) ends with the network of the epoch of lowest training loss, the same
    network as a fit stopped at that epoch; 'valid_accuracy' picks by the validation set; None keeps the last."""
    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier

    X, y = shapes
    noisy = {**TINY_LF, "epochs": 8, "lr": 0.2}  # a large step: the training loss goes up and down
    clf = LSTMFCNClassifier(**noisy, random_state=2).fit(X, y)
    losses = clf.member_histories_[0]["train_loss"]
    best = int(np.argmin(losses))
    assert clf.best_epochs_ == [best] and best < 7, losses
    stopped = LSTMFCNClassifier(**{**noisy, "epochs": best + 1}, restore_best=None, random_state=2).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), stopped.predict_proba(X), rtol=1e-5, atol=1e-6)
    last = LSTMFCNClassifier(**noisy, restore_best=None, random_state=2).fit(X, y)
    assert last.best_epochs_ == [7] and not np.allclose(last.predict_proba(X), clf.predict_proba(X), atol=1e-3)

    # warm start: the best of the new epochs, counted in the whole history
    clf.set_params(warm_start=True, epochs=3).fit(X, y)
    assert clf.n_epochs_ == 11
    assert clf.best_epochs_ == [8 + int(np.argmin(clf.member_histories_[0]["train_loss"][8:]))]

    # by the validation set: the kept network scores what its epoch scored
    Xv, yv = X[::2], y[::2]
    it = InceptionTimeClassifier(**{**TINY_IT, "models": 1, "epochs": 5, "lr": 0.05}, restore_best="valid_accuracy",
                                 random_state=0).fit(X, y, validation_data=(Xv, yv))
    scores = it.history_["valid_accuracy"]
    assert it.best_epochs_ == [int(np.argmax(scores))] and it.score(Xv, yv) == max(scores), scores


@pytest.mark.parametrize("network, restore", [
    ("it", "train_loss"),
    pytest.param("it", "valid_accuracy", marks=pytest.mark.slow),  # the cut is the same for every network and choice:
    pytest.param("lf", "train_loss", marks=pytest.mark.slow),      # the default run keeps one of each kind
    ("lf", None),
])
def test_a_fit_cut_into_parts_gives_the_network_of_an_uncut_fit(shapes, network, restore):
    """A network trained in parts (each continuing the state the one before returned, pickled as between two
    workers) ends with the weights, history and best epoch of the same network trained in one go: the plateau
    count, the best epoch's weights, the sample order and LSTM-FCN's dropout carry over."""
    from m5kit.models import classifiers
    from m5kit.models._keras._private import unpack_model

    X, y = shapes
    est = (classifiers.InceptionTimeClassifier(**{**TINY_IT, "models": 1}, restore_best=restore) if network == "it"
           else classifiers.LSTMFCNClassifier(**TINY_LF, restore_best=restore))
    est.classes_, est.series_length_, est.n_channels_ = np.unique(y), X.shape[1], 1
    params = est._checked_params()
    data = est._data(X[:, :, None], y, (X[::3], y[::3]))
    spec = {**est._spec(params, 12, 5, 0, build=est._build_params(params, (X.shape[1], 1), 3, 5)), "pack": True,
            "plateau": (0.5, 2, 1e-4)}  # the learning rate falls within the 12 epochs
    whole, whole_history = classifiers._fit_member(data, spec)
    state = None
    for part in classifiers._spans(12, 3):
        state = classifiers._fit_member(data, {**spec, "part": part}, None if state is None else pickle.loads(pickle.dumps(state)))
    parts, parts_history = state
    assert parts_history == whole_history and len(whole_history["train_loss"]) == 12
    for a, b in zip(unpack_model(whole).get_weights(), unpack_model(parts).get_weights()):
        np.testing.assert_array_equal(a, b)


def test_ensemble_on_two_workers_trains_in_parts_and_equals_the_serial_fit(dask_client, shapes, monkeypatch):
    """3 networks on 2 workers: each fit goes out in 2 parts of 10 epochs (2 rounds of networks' time, not 3) and
    the ensemble is the one a serial fit gives."""
    from m5kit.execution import cluster
    from m5kit.models.classifiers import InceptionTimeClassifier

    chained = []
    run_chains = cluster.run_chains
    monkeypatch.setattr(cluster, "run_chains", lambda data, chains, *a, **k: chained.append(
        [len(c) for c in chains]) or run_chains(data, chains, *a, **k))
    X, y = shapes
    params = {**TINY_IT, "models": 3, "epochs": 20, "random_state": 4}
    serial = InceptionTimeClassifier(**params).fit(X, y, validation_data=(X[:9], y[:9]))
    dask = InceptionTimeClassifier(**params, client=dask_client).fit(X, y, validation_data=(X[:9], y[:9]))
    assert chained == [[2, 2, 2]]
    # the networks come back as .keras bytes and load when first used (the client had no CPU to spare meanwhile)
    assert all(isinstance(m, np.ndarray) for m in dask.__dict__["_members"])
    back = pickle.loads(pickle.dumps(dask))
    np.testing.assert_array_equal(serial.predict_proba(X), dask.predict_proba(X))
    np.testing.assert_array_equal(back.predict_proba(X), dask.predict_proba(X))
    assert serial.member_histories_ == dask.member_histories_ and serial.best_epochs_ == dask.best_epochs_


def test_lstm_fcn_multivariate_and_integer_labels():
    """A 3-D input (series x time x channels) with integer labels fits and predicts those labels."""
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = make_shapes(n_per_class=6, length=16, classes=("sine", "square"), channels=2, seed=2)
    labels = np.where(y == "sine", 7, 3)
    clf = LSTMFCNClassifier(**{**TINY_LF, "epochs": 1}, random_state=0).partial_fit(X, labels)
    assert clf.n_channels_ == 2 and clf.classes_.tolist() == [3, 7]
    assert set(clf.predict(X).tolist()) <= {3, 7}


def test_same_seed_same_model(shapes):
    """Two fits with the same random_state give the same probabilities."""
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = shapes
    a = LSTMFCNClassifier(**TINY_LF, random_state=4).fit(X, y)
    b = LSTMFCNClassifier(**TINY_LF, random_state=4).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_second_network_of_the_same_architecture_traces_nothing(monkeypatch, shapes):
    """After one fit, networks of the same architecture (other seeds, data, validation set, a reloaded model) trace nothing."""
    from _traces import traced_calls

    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier

    X, y = shapes
    for cls, params in ((LSTMFCNClassifier, TINY_LF), (InceptionTimeClassifier, TINY_IT)):
        cls(**params, random_state=0).fit(X, y, validation_data=(X[:9], y[:9]))
        with traced_calls(monkeypatch) as traced:
            clf = cls(**params, random_state=1).fit(X[3:], y[3:], validation_data=(X[:6], y[:6]))
            back = pickle.loads(pickle.dumps(clf))  # as `--init-model` loads a model folder
            back.set_params(warm_start=True).fit(X, y)
        assert traced == [], cls.__name__
        assert len(clf.members_) == params.get("models", 1) and back.n_epochs_ == 4
        assert len(clf.history_["valid_accuracy"]) == 2


def _bn_input_stats(network, X: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Mean and variance of each BatchNormalization layer's inputs over ``X``, in inference mode."""
    import keras

    layers = [layer for layer in network.layers if isinstance(layer, keras.layers.BatchNormalization)]
    outputs = keras.Model(network.input, [layer.input for layer in layers])(X, training=False)
    acts = [np.asarray(a, dtype=np.float64).reshape(-1, a.shape[-1]) for a in outputs]
    return [(np.asarray(layer.moving_mean), np.asarray(layer.moving_variance), a.mean(axis=0), a.var(axis=0))
            for layer, a in zip(layers, acts)]


def test_precise_bn_predicts_with_the_statistics_of_the_training_series(shapes):
    """After fit, every batch normalization holds its inputs' exact statistics over the training series, and the
    validation scores of the epoch it kept are those of the fitted model (without precise BN they are not)."""
    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier, _as_series, _znorm

    X, y = shapes
    Xn = _znorm(_as_series(X))
    Xv, yv = X[::3], y[::3]
    for cls, params in ((InceptionTimeClassifier, {**TINY_IT, "models": 1}), (LSTMFCNClassifier, TINY_LF)):
        precise = cls(**params, random_state=0).fit(X, y, validation_data=(Xv, yv))
        for moving_mean, moving_var, mean, var in _bn_input_stats(precise.members_[0], Xn):
            np.testing.assert_allclose(moving_mean, mean, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(moving_var, var, rtol=1e-3, atol=1e-5)
        assert precise.history_["valid_accuracy"][precise.best_epochs_[0]] == precise.score(Xv, yv), cls.__name__

        moving = cls(**params, precise_bn=False, random_state=0).fit(X, y)
        stats = _bn_input_stats(moving.members_[0], Xn)
        assert not all(np.allclose(m, mean, rtol=1e-4, atol=1e-5) for m, _, mean, _ in stats), cls.__name__
        # the same weights either way: only the statistics differ
        for a, b in zip(precise.members_[0].trainable_weights, moving.members_[0].trainable_weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_grid_search(shapes):
    """GridSearchCV clones, fits and scores the classifier over a parameter grid."""
    from sklearn.model_selection import GridSearchCV

    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = shapes
    search = GridSearchCV(LSTMFCNClassifier(**{**TINY_LF, "epochs": 1}, random_state=0),
                          {"hidden_size": [2, 4]}, cv=2).fit(X, y)
    assert search.best_params_["hidden_size"] in (2, 4) and hasattr(search.best_estimator_, "members_")


def test_a_classifier_with_a_client_clones_sharing_it(dask_client, shapes):
    """clone (and so GridSearchCV) of a classifier given client= shares the client (it tried to deep-copy it:
    "cannot pickle '_asyncio.Task' object"), with the same other parameters."""
    from sklearn.base import clone

    from m5kit.models.classifiers import InceptionTimeClassifier

    clf = InceptionTimeClassifier(**TINY_IT, client=dask_client)
    twin = clone(clf)
    assert twin.client is dask_client and clf.client is dask_client
    assert twin.get_params() == clf.get_params() and twin is not clf


@pytest.mark.slow
def test_dask_members_equal_serial(dask_client, shapes, capsys):
    """The ensemble's networks fitted as Dask tasks (with a progress bar) equal the serial fit, warm start too."""
    from m5kit.models.classifiers import InceptionTimeClassifier

    X, y = shapes
    serial = InceptionTimeClassifier(**TINY_IT, random_state=3).fit(X, y)
    dask = InceptionTimeClassifier(**TINY_IT, random_state=3, client=dask_client, progress=True).fit(X, y)
    assert "inception-time networks" in capsys.readouterr().err
    np.testing.assert_array_equal(serial.predict_proba(X), dask.predict_proba(X))
    assert serial.history_ == dask.history_
    serial.set_params(warm_start=True).fit(X, y)
    dask.set_params(warm_start=True).fit(X, y)
    np.testing.assert_array_equal(serial.predict_proba(X), dask.predict_proba(X))
    assert pickle.loads(pickle.dumps(dask)).client is None


def test_fit_without_labels_says_y_is_missing(shapes):
    """fit(X, None) said "y has shape () for N series": it now says y is None and to give one label per series."""
    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier

    X, y = shapes
    for clf in (LSTMFCNClassifier(**{**TINY_LF, "epochs": 1}), InceptionTimeClassifier(epochs=1)):
        with pytest.raises(DataError, match=rf"^y is None: give one label per series \({len(X)} labels\)$"):
            clf.fit(X, None)
        with pytest.raises(DataError, match=rf"^y_valid is None: give one label per series \({len(X)} labels\)$"):
            clf.fit(X, y, validation_data=(X, None))


@pytest.mark.parametrize("overwrite", [None, "no"])
def test_write_shapes_overwrite_not_a_bool_is_one_param_error(tmp_path, overwrite):
    """write_shapes(overwrite=None) replaced the files without a word (None was check_folder's 'do not check'):
    one ParamError line, as for 'no', the files kept."""
    from m5kit.datasets.ucr import write_shapes

    write_shapes(tmp_path, n_per_class=1, length=4)
    before = (tmp_path / "train.csv").read_bytes()
    with pytest.raises(ParamError, match=rf"^invalid overwrite {overwrite!r}: give False or True$"):
        write_shapes(tmp_path, n_per_class=1, length=4, seed=1, overwrite=overwrite)
    assert (tmp_path / "train.csv").read_bytes() == before
