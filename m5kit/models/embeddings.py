"""Product embeddings from order baskets: prod2vec, a skip-gram network with negative sampling.

A basket is a sentence and a product a word (word2vec's skip-gram): every
ordered pair of two products of the same basket is a genuine (target,
context) pair; for each, ``negatives`` contexts are drawn from the products'
unigram distribution to the power 0.75 as false pairs. A target embedding
and a context embedding go into a dot product and a one-unit sigmoid that
says whether the pair is genuine. The target embeddings are the product
vectors.

Pairs are made with NumPy from the baskets' arrays, a chunk of baskets at a
time (never a Python list of all pairs), so memory stays bounded at the size
of Instacart's prior file (32 M rows). Frequent products are subsampled as in
word2vec (each occurrence kept with probability ``sqrt(t/f) + t/f``) and
products seen fewer than ``min_count`` times are left out.

Training is word2vec's plain SGD with a linearly falling rate, on the Keras
model's layers: a traced function runs a whole chunk of batches per Python
call, each step compiled with XLA; the pairs of a batch share its negatives
(one matrix product); only the embedding rows a batch touched are updated
(the gradients of an ``Embedding`` are IndexedSlices, scattered into the
table, as Keras' SGD does on TensorFlow). Adam through ``train_on_batch``
ran ~17-20 k pairs/s; ``benchmarks/RESULTS.md`` has this loop against gensim.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from m5kit import _checks
from m5kit.errors import DataError, ParamError

__all__ = ["Prod2Vec", "basket_pairs", "build_skipgram"]

logger = logging.getLogger(__name__)

#: Negatives drawn per batch for each of ``negatives`` (shared by the batch's pairs).
_SHARED_PER_NEGATIVE = 4
#: A fit of fewer batches runs its step without XLA (compiling costs more than it saves).
_JIT_FROM_BATCHES = 2000
#: Batches per call of the traced training function (bounds the arrays handed to TensorFlow).
_BATCHES_PER_CALL = 256
#: How `m5kit prod2vec run` spells lr and batch_size, for the messages that say to lower them.
_OPTIONS = "(`m5kit prod2vec run --lr`, --batch-size)"
#: Vector entries gathered at a time by ``pair_loss`` (~16 MB of float32 per table; bounds its memory).
_LOSS_BLOCK_VALUES = 1 << 22


def build_skipgram(n_products: int, embedding_dim: int = 100, learning_rate: float = 0.025, seed: int | None = None):
    """The skip-gram network: target and context embeddings, their dot product, a one-unit sigmoid.

    Parameters
    ----------
    n_products : int
        Vocabulary size.
    embedding_dim : int
    learning_rate : float
        Plain SGD's (starting) learning rate, per pair, as word2vec's ``alpha``.
    seed : int, optional
        Seeds every initializer (never Keras' global seed).

    Returns
    -------
    keras.Model
        Inputs ``target`` and ``context`` (int32 of shape (n,)), output the
        probability that the pair is genuine; compiled with binary
        cross-entropy and SGD, whose update of an embedding is sparse (only
        the rows a batch touched). The sigmoid unit is fixed (weight 1, bias
        0, not trainable): its logit is the dot product, as in word2vec.
    """
    from m5kit.execution.quiet import import_backend

    keras = import_backend()
    from m5kit.models._keras.seeding import Initializers

    seeds = Initializers(seed)

    def init(scale):
        return keras.initializers.RandomUniform(-scale, scale, seed=seeds.seed())

    target = keras.Input((), dtype="int32", name="target")
    context = keras.Input((), dtype="int32", name="context")
    t = keras.layers.Embedding(n_products, embedding_dim, embeddings_initializer=init(0.5 / embedding_dim),
                               name="target_embedding")(target)
    c = keras.layers.Embedding(n_products, embedding_dim, embeddings_initializer=init(0.5 / embedding_dim),
                               name="context_embedding")(context)
    dot = keras.layers.Dot(axes=-1, name="dot")([t, c])
    out = keras.layers.Dense(1, activation="sigmoid", name="genuine", trainable=False,
                             kernel_initializer=keras.initializers.Ones(), bias_initializer="zeros")(dot)
    model = keras.Model([target, context], out, name="skipgram")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate, name="sgd"), loss="binary_crossentropy")
    model.optimizer.build(model.trainable_variables)
    return model


def _chunk_trainer(model, negatives: int, shared: int, jit: bool = True):
    """A traced function that trains ``model`` on a chunk of batches in one call.

    ``train(targets, contexts, noise, weights, rates)`` takes ``targets``,
    ``contexts`` and ``weights`` of shape (n_batches, batch), ``noise`` of
    shape (n_batches, shared) and one learning rate per batch; it loops over
    the batches inside TensorFlow (one Python call per chunk, not per batch)
    and returns the summed loss. ``weights`` is 1 for a pair and 0 for the
    padding of a short last batch, so every step has the same shapes.

    One step (compiled with XLA when ``jit``): the batch's target and context
    rows, the dot products of the genuine pairs and of every target with the batch's
    ``shared`` negatives (one matrix product instead of ``negatives`` gathers
    per pair; each negative term weighted ``negatives / shared``, so the
    expected gradient is word2vec's), binary cross-entropy of their sigmoid
    summed over pairs (word2vec's per-pair step), and plain SGD on the rows
    the batch touched: the gradients of the two embeddings are IndexedSlices,
    applied with a scatter.

    Measured on one thread (2,000 products, dimension 100, 1,024 pairs and 20
    shared negatives per batch, load 8-15 on 2 cores), in pairs per CPU-second:
    5 negatives gathered per pair ~0.2 M; shared negatives 0.33 M; the same
    with the step compiled by XLA 0.56-0.63 M (the whole loop compiled: 0.47 M).
    Compiling costs ~2-3 CPU-s per fit (per model: the step closes over its
    variables), which a fit of fewer than ~2,000 batches does not win back.
    """
    from m5kit.execution.quiet import import_backend

    backend = import_backend().backend.backend()
    if backend != "tensorflow":
        raise ParamError(f"Prod2Vec trains on Keras' TensorFlow backend (KERAS_BACKEND is {backend!r}): "
                         "unset KERAS_BACKEND or set it to tensorflow")
    import tensorflow as tf

    target_layer = model.get_layer("target_embedding")
    context_layer = model.get_layer("context_embedding")
    tables = [target_layer.embeddings.value, context_layer.embeddings.value]  # the tf.Variables behind them
    weight = float(negatives) / float(shared)

    @tf.function(jit_compile=bool(jit), autograph=False)
    def step(target_ids, context_ids, noise_ids, pair_weights, rate):
        with tf.GradientTape() as tape:
            t = target_layer(target_ids)
            c = context_layer(context_ids)
            n = context_layer(noise_ids)
            genuine = tf.reduce_sum(t * c, axis=-1)      # dot products of the genuine pairs
            false = tf.matmul(t, n, transpose_b=True)    # every target against the shared negatives
            # binary cross-entropy of sigmoid(dot): -log s(x) = softplus(-x), -log(1 - s(x)) = softplus(x)
            loss = (tf.reduce_sum(pair_weights * tf.math.softplus(-genuine))
                    + weight * tf.reduce_sum(pair_weights[:, None] * tf.math.softplus(false)))
        for table, grad in zip(tables, tape.gradient(loss, tables)):  # grad: IndexedSlices of the rows touched
            table.scatter_sub(tf.IndexedSlices(rate * grad.values, grad.indices, grad.dense_shape))
        return loss

    ids, floats = tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.float32)

    @tf.function(input_signature=[ids, ids, ids, floats, tf.TensorSpec([None], tf.float32)])
    def train(targets, contexts, noise, weights, rates):
        total = tf.constant(0.0)
        for i in tf.range(tf.shape(targets)[0]):
            total += step(targets[i], contexts[i], noise[i], weights[i], rates[i])
        return total

    return train


def _probability(logit: np.ndarray) -> np.ndarray:
    """The sigmoid of ``logit``, kept within [1e-7, 1 - 1e-7] so that its log stays finite."""
    return np.clip(1.0 / (1.0 + np.exp(-logit)), 1e-7, 1 - 1e-7)


def basket_pairs(basket: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair of two items of the same basket, vectorised.

    Parameters
    ----------
    basket : array of int, sorted
        Basket code of each item (items of a basket are contiguous).
    items : array of int
        Item codes.

    Returns
    -------
    targets, contexts : arrays
        ``sum(s * (s - 1))`` pairs over baskets of size ``s``.

    Examples
    --------
    >>> t, c = basket_pairs(np.array([0, 0, 0, 1]), np.array([5, 6, 7, 8]))
    >>> sorted(zip(t.tolist(), c.tolist()))
    [(5, 6), (5, 7), (6, 5), (6, 7), (7, 5), (7, 6)]
    """
    n = len(items)
    if n == 0:
        return items[:0], items[:0]
    starts = np.flatnonzero(np.r_[True, basket[1:] != basket[:-1]])
    sizes = np.diff(np.r_[starts, n])
    size_of = np.repeat(sizes, sizes)
    start_of = np.repeat(starts, sizes)
    position = np.arange(n) - start_of
    per = size_of - 1
    source = np.repeat(np.arange(n), per)
    k = np.arange(len(source)) - np.repeat(np.cumsum(per) - per, per)
    other = start_of[source] + k + (k >= position[source])
    return items[source], items[other]


class Prod2Vec(TransformerMixin, BaseEstimator):
    """Product vectors from order baskets (skip-gram with negative sampling), as a scikit-learn transformer.

    Parameters
    ----------
    embedding_dim : int, default=100
        Length of each product vector.
    negatives : int, default=5
        False contexts per genuine pair (unigram^0.75). Each batch draws
        ``4 * negatives`` of them, shared by all its pairs, each weighted 1/4:
        in expectation word2vec's ``negatives`` per pair, for one matrix
        product per batch.
    lr : float, default=0.025
        SGD's learning rate per pair at the start (word2vec's ``alpha``); it
        falls linearly to ``lr * 1e-4`` over the fit.
    epochs : int, default=3
        Passes over the baskets.
    batch_size : int, default=1024
        Genuine pairs per training step; they share ``4 * negatives``
        negatives. The step is summed over pairs, so a product met by many
        pairs of one batch moves far: on a vocabulary of a few hundred
        products keep batches at about 1000 pairs (at 4096 pairs on 120
        products the loss explodes; ``fit`` logs a warning, or raises when it
        turns NaN).
    min_count : int, default=5
        Products seen fewer times are left out.
    subsample : float, default=1e-3
        word2vec's subsampling threshold of frequent products (0: none).
    chunk_rows : int, default=2000000
        Basket rows turned into pairs at a time (bounds memory).
    random_state : int, optional

    Attributes
    ----------
    products_ : ndarray
        Product ids of the vocabulary, in the order of the vectors.
    counts_ : ndarray
        How often each was bought.
    embeddings_ : DataFrame
        One row per product id, columns ``emb_0 ...`` (and ``product_name``
        when ``fit`` got the products table).
    history_ : dict
        ``loss`` per epoch (per genuine or negative term) and ``pairs_per_second``.
    n_pairs_ : int
        Genuine pairs trained on, over all epochs.
    negatives_, min_count_ : int
        ``negatives`` and ``min_count`` as fitted (``pair_loss`` draws ``negatives_``).

    Examples
    --------
    >>> from m5kit.datasets.baskets import make_baskets
    >>> data = make_baskets(n_orders=300, n_products=40, n_aisles=4, n_departments=2)
    >>> p2v = Prod2Vec(embedding_dim=8, epochs=1, min_count=1, random_state=0).fit(data.prior)   # doctest: +SKIP
    >>> p2v.transform([1, 2]).shape                                                               # doctest: +SKIP
    (2, 8)
    """

    def __init__(self, embedding_dim: int = 100, negatives: int = 5, lr: float = 0.025, epochs: int = 3,
                 batch_size: int = 1024, min_count: int = 5, subsample: float = 1e-3, chunk_rows: int = 2_000_000,
                 random_state: int | None = None):
        self.embedding_dim = embedding_dim
        self.negatives = negatives
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.min_count = min_count
        self.subsample = subsample
        self.chunk_rows = chunk_rows
        self.random_state = random_state

    def _check_params(self) -> None:
        _checks.whole(self.embedding_dim, "embedding_dim")
        _checks.whole(self.negatives, "negatives")
        _checks.number(self.lr, "lr")
        _checks.whole(self.epochs, "epochs")
        _checks.whole(self.batch_size, "batch_size")
        _checks.whole(self.min_count, "min_count")
        _checks.number(self.subsample, "subsample", low_open=False)
        _checks.whole(self.chunk_rows, "chunk_rows", minimum=1000)
        _checks.optional_whole(self.random_state, "random_state", minimum=0)

    @staticmethod
    def _arrays(baskets) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(baskets, pd.DataFrame):
            missing = [c for c in ("order_id", "product_id") if c not in baskets.columns]
            if missing:
                raise DataError(f"the baskets need the columns order_id and product_id (missing {missing[0]!r}): "
                                "pass order_products__prior.csv's rows")
            frame = baskets[["order_id", "product_id"]]
            if frame.isna().any().any():
                raise DataError("the baskets hold missing order or product ids: drop or fill those rows")
            if frame["product_id"].dtype == object:  # 1 and "1": np.unique raised a bare TypeError
                _one_kind_of_id(frame["product_id"])
            if not frame["order_id"].is_monotonic_increasing:  # text ids too (np.diff was a bare TypeError on them)
                frame = frame.sort_values("order_id", kind="stable")
            return frame["order_id"].to_numpy(), frame["product_id"].to_numpy()
        if not isinstance(baskets, Iterable):  # None: a bare TypeError ('NoneType' object is not iterable)
            raise DataError(f"the baskets are {type(baskets).__name__}, not baskets: give a frame of order_id, "
                            "product_id rows or a list of baskets (lists of product ids)")
        rows = []
        for i, basket in enumerate(baskets):
            if isinstance(basket, (str, bytes)) or not isinstance(basket, Iterable):  # a column of ids, not baskets
                shown = basket.item() if isinstance(basket, np.generic) else basket
                raise DataError(f"basket {i} is {shown!r}, not a list of product ids: give a frame of order_id, "
                                "product_id rows or a list of baskets (lists of product ids)")
            rows.extend((i, p) for p in basket)
        if not rows:
            raise DataError("no baskets: give a frame of order_id, product_id rows or a list of baskets")
        ids = pd.Series([p for _, p in rows], dtype=object)
        if ids.isna().any():  # NaN would become a product with a vector of its own (the text 'nan' beside text ids)
            raise DataError("the baskets hold missing product ids: drop them from the baskets")
        _one_kind_of_id(ids)  # np.asarray made every id text: 1 and "1" were one product
        arr = np.asarray(rows)
        return arr[:, 0], arr[:, 1]

    def fit(self, X, y=None, products: pd.DataFrame | None = None) -> Prod2Vec:
        """Learn a vector per product from the baskets ``X``.

        Parameters
        ----------
        X : DataFrame of ``order_id, product_id`` rows, or a list of baskets (lists of product ids)
        y : None
        products : DataFrame, optional
            ``product_id, product_name``: names go into ``embeddings_``.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Baskets that are not order_id, product_id rows or lists of ids,
            missing ids, no pair to learn from, or a ``products`` table
            without those columns or listing a product twice.
        """
        self._check_params()
        if products is not None:
            missing = [c for c in ("product_id", "product_name") if c not in getattr(products, "columns", ())]
            if missing:  # its names would be left out without a word
                raise DataError(f"products needs the columns product_id and product_name (missing {missing[0]!r}): "
                                "pass products.csv's rows, or no products")
            twice = products["product_id"][products["product_id"].duplicated()]
            if len(twice):  # its name would be ambiguous
                raise DataError(f"products lists product {twice.tolist()[0]!r} more than once: give one row per product_id")
        orders, product_ids = self._arrays(X)
        vocab, codes, counts = np.unique(product_ids, return_inverse=True, return_counts=True)
        keep_word = counts >= self.min_count
        if keep_word.sum() < 2:
            raise DataError(f"fewer than 2 products were bought at least min_count={self.min_count} times: "
                            "lower min_count or give more baskets")
        remap = np.full(len(vocab), -1)
        remap[keep_word] = np.arange(int(keep_word.sum()))
        # the fitted attributes are set once training succeeded: a failed refit leaves the last fit whole
        kept_ids, kept_counts = vocab[keep_word], counts[keep_word]
        codes = remap[codes]
        rows = codes >= 0
        orders, codes = orders[rows], codes[rows]
        rng = np.random.default_rng(self.random_state)
        freq = kept_counts / kept_counts.sum()
        keep_prob = np.ones_like(freq) if not self.subsample else np.minimum(
            1.0, np.sqrt(self.subsample / freq) + self.subsample / freq)
        noise = kept_counts.astype(float) ** 0.75
        noise_cdf = np.cumsum(noise / noise.sum())
        model = build_skipgram(len(kept_ids), int(self.embedding_dim), float(self.lr),
                               seed=None if self.random_state is None else int(self.random_state))
        negatives, batch = int(self.negatives), int(self.batch_size)
        shared = _SHARED_PER_NEGATIVE * negatives
        sizes = np.bincount(np.unique(orders, return_inverse=True)[1])
        batches = int((sizes * (sizes - 1)).sum()) * int(self.epochs) / batch  # before subsampling: at most
        train = _chunk_trainer(model, negatives, shared, jit=batches >= _JIT_FROM_BATCHES)
        history: dict[str, list] = {"loss": [], "pairs_per_second": []}
        n_pairs = 0
        epochs, n_rows = int(self.epochs), len(codes)
        for epoch in range(epochs):
            start, seen, loss = time.perf_counter(), 0, 0.0
            for first_row, last_row, (targets, contexts) in self._chunks(orders, codes, keep_prob, rng):
                if not len(targets):
                    continue
                order = rng.permutation(len(targets))
                targets, contexts = targets[order].astype(np.int32), contexts[order].astype(np.int32)
                n_batches = -(-len(targets) // batch)
                # word2vec's schedule: the rate falls linearly with the share of the corpus done
                done = (epoch + np.linspace(first_row, last_row, n_batches, endpoint=False) / n_rows) / epochs
                rates = (float(self.lr) * np.maximum(1e-4, 1.0 - done)).astype(np.float32)
                noise = np.minimum(np.searchsorted(noise_cdf, rng.random((n_batches, shared))),
                                   len(noise_cdf) - 1).astype(np.int32)
                pad = n_batches * batch - len(targets)  # the short last batch is padded with weight 0
                targets = np.concatenate([targets, np.zeros(pad, np.int32)]).reshape(n_batches, batch)
                contexts = np.concatenate([contexts, np.zeros(pad, np.int32)]).reshape(n_batches, batch)
                for lo in range(0, n_batches, _BATCHES_PER_CALL):
                    hi = min(n_batches, lo + _BATCHES_PER_CALL)
                    weights = np.ones((hi - lo, batch), np.float32)
                    if hi == n_batches and pad:
                        weights[-1, batch - pad:] = 0.0
                    loss += float(train(targets[lo:hi], contexts[lo:hi], noise[lo:hi], weights, rates[lo:hi]))
                if not np.isfinite(loss):
                    raise ParamError(f"prod2vec's loss became {loss} in epoch {epoch + 1}: the steps are too large "
                                     f"for the vocabulary; lower lr (now {self.lr}) or batch_size (now {batch}) {_OPTIONS}")
                seen += n_batches * batch - pad
            if not seen:
                raise DataError("the baskets hold no pair of two products (every basket has one product after "
                                "min_count and subsampling): give baskets of two or more products")
            n_pairs += seen
            history["loss"].append(loss / (seen * (1 + negatives)))
            if history["loss"][-1] > 2 * np.log(2):  # twice the loss of a model that knows nothing
                logger.warning("prod2vec epoch %d: loss %.3g, far above chance's 0.69: the steps overshoot; lower lr "
                               "(%s) or batch_size (%d) %s", epoch + 1, history["loss"][-1], self.lr, batch, _OPTIONS)
            history["pairs_per_second"].append(seen / (time.perf_counter() - start))
            logger.info("prod2vec epoch %d: loss %.4f, %d pairs", epoch + 1, history["loss"][-1], seen)
        vectors = np.asarray(model.get_layer("target_embedding").embeddings.numpy(), dtype=np.float32)
        self.context_vectors_ = np.asarray(model.get_layer("context_embedding").embeddings.numpy(), dtype=np.float32)
        weight, bias = (np.asarray(w.numpy()).reshape(-1)[0] for w in model.get_layer("genuine").weights)
        self.output_ = (float(weight), float(bias))
        self.noise_cdf_ = noise_cdf
        self.history_ = history
        self.products_, self.counts_, self.n_pairs_ = kept_ids, kept_counts, n_pairs
        self.embeddings_ = pd.DataFrame(vectors, index=pd.Index(self.products_, name="product_id"),
                                        columns=[f"emb_{i}" for i in range(vectors.shape[1])])
        if products is not None:
            names = products.set_index("product_id")["product_name"]
            self.embeddings_.insert(0, "product_name", names.reindex(self.products_).to_numpy())
        self.negatives_, self.min_count_ = negatives, int(self.min_count)
        self._index = {p: i for i, p in enumerate(self.products_.tolist())}
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Refused: ``fit`` takes baskets and ``transform`` product ids, so no ``X`` suits both.

        Raises
        ------
        ParamError
            Always, before any training: call ``fit(baskets)``, then
            ``transform(product_ids)``.
        """
        raise ParamError("Prod2Vec fits on baskets and transforms product ids, so fit_transform has no X to take: "
                         "call fit(baskets), then transform(product_ids)")

    def _chunks(self, orders, codes, keep_prob=None, rng=None) -> Iterator[tuple[int, int, tuple[np.ndarray, np.ndarray]]]:
        """First row, end row and (targets, contexts) of the genuine pairs, a chunk of whole baskets at a time.

        With ``keep_prob`` each row is kept with its product's probability
        (drawn from ``rng``); without, every row is.
        """
        n, step = len(codes), int(self.chunk_rows)
        first = 0
        while first < n:
            last = min(n, first + step)
            while last < n and orders[last] == orders[last - 1]:  # keep baskets whole
                last += 1
            o, c = orders[first:last], codes[first:last]
            if keep_prob is not None:
                kept = rng.random(len(c)) < keep_prob[c]
                o, c = o[kept], c[kept]
            yield first, last, basket_pairs(o, c)
            first = last

    def pair_loss(self, X, random_state: int | None = 0) -> float:
        """Mean binary cross-entropy of held-out baskets' genuine pairs and their negatives (lower is better).

        Products outside the vocabulary are left out; the negatives are drawn
        with ``random_state``, so two models are compared on the same pairs.
        The pairs are made ``chunk_rows`` basket rows at a time and scored a
        block at a time, so memory stays bounded whatever the number of
        held-out baskets.

        Parameters
        ----------
        X : DataFrame of ``order_id, product_id`` rows, or a list of baskets (lists of product ids)
            The held-out baskets.
        random_state : int, optional
            Seed of the negatives' draws.

        Returns
        -------
        float
            The loss per genuine or negative term.

        Raises
        ------
        DataError
            The held-out baskets hold no pair of two products of the vocabulary.
        ParamError
            ``random_state`` is not None or a whole number of at least 0.
        """
        check_is_fitted(self, "embeddings_")
        random_state = _checks.optional_whole(random_state, "random_state", minimum=0)  # NumPy's error named none
        orders, product_ids = self._arrays(X)
        known = np.isin(product_ids, self.products_)
        orders, codes = orders[known], np.searchsorted(self.products_, product_ids[known])
        rng = np.random.default_rng(random_state)
        k = int(getattr(self, "negatives_", self.negatives))  # as fitted: set_params since does not change the loss
        vectors, contexts_table = self._vectors(), self.context_vectors_
        weight, bias = self.output_
        block = max(256, _LOSS_BLOCK_VALUES // (vectors.shape[1] * (k + 1)))
        total, terms = 0.0, 0
        for _, _, (targets, contexts) in self._chunks(orders, codes):
            for lo in range(0, len(targets), block):
                t, c = targets[lo:lo + block], contexts[lo:lo + block]
                # the k negatives of pair i are draws i*k .. i*k+k-1 of one stream, whatever the blocks
                neg = np.minimum(np.searchsorted(self.noise_cdf_, rng.random(len(t) * k)), len(self.products_) - 1)
                v = vectors[t]
                genuine = weight * np.einsum("ij,ij->i", v, contexts_table[c]) + bias
                false = weight * np.einsum("ij,ikj->ik", v, contexts_table[neg].reshape(len(t), k, -1)) + bias
                total -= float(np.log(_probability(genuine)).sum()) + float(np.log(1 - _probability(false)).sum())
                terms += len(t) * (k + 1)
        if not terms:
            raise DataError("the held-out baskets hold no pair of two known products: hold out more baskets")
        return total / terms

    def _vectors(self) -> np.ndarray:
        return self.embeddings_[[c for c in self.embeddings_.columns if c.startswith("emb_")]].to_numpy()

    def transform(self, X) -> np.ndarray:
        """Vectors of the given product ids (an unknown id is a DataError naming it).

        Parameters
        ----------
        X : array-like of product ids (or a one-column frame)
            The products whose vectors to return, in that order.

        Returns
        -------
        ndarray of shape (n, embedding_dim)
            One row per id (a DataFrame with ``set_output(transform="pandas")``).

        Raises
        ------
        DataError
            An id without a vector (not in the baskets, or bought fewer
            than ``min_count`` times), or a table of several columns.
        """
        check_is_fitted(self, "embeddings_")
        ids = np.asarray(X)
        if ids.ndim > 2 or (ids.ndim == 2 and ids.shape[1] != 1):  # flattened, its other columns became product ids
            raise DataError(f"transform takes product ids (a list or one column), not a table of shape {ids.shape}: "
                            "pass the product_id column alone")
        ids = ids.reshape(-1)
        unknown = [i for i in ids.tolist() if i not in self._index]
        if unknown:
            raise DataError(f"product {unknown[0]!r} has no vector (not in the baskets, or bought fewer than "
                            f"min_count={getattr(self, 'min_count_', self.min_count)} times)" + (f"; {len(unknown) - 1} more" if len(unknown) > 1 else ""))
        return self._vectors()[[self._index[i] for i in ids.tolist()]]

    def most_similar(self, product_id, k: int = 10) -> pd.DataFrame:
        """The ``k`` products whose vectors are closest (cosine) to ``product_id``'s.

        Parameters
        ----------
        product_id : scalar
            One product of the vocabulary (``products_``).
        k : int, default=10
            How many neighbours; at most the vocabulary's size less one.

        Returns
        -------
        DataFrame
            ``product_id``, ``similarity`` (and ``product_name``), most similar first.

        Raises
        ------
        DataError
            A product without a vector, or several ids.
        ParamError
            ``k`` not a whole number below the vocabulary's size.
        """
        check_is_fitted(self, "embeddings_")
        if np.ndim(product_id) != 0:
            raise DataError(f"most_similar takes one product id, not {type(product_id).__name__} {product_id!r}: "
                            "call it once per product")
        if isinstance(product_id, np.ndarray):  # np.array(5): a bare 'unhashable type' TypeError
            product_id = product_id.item()
        # the id first: an unknown one on a small vocabulary was refused for the default k
        query = np.asarray(self.transform([product_id]))[0]  # a DataFrame with set_output(transform="pandas")
        k = self._neighbour_count(k)
        vectors = self._vectors()
        norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(query)
        sims = vectors @ query / np.where(norms > 0, norms, 1.0)
        sims[self._index[product_id]] = -np.inf
        top = np.argsort(-sims)[:k]
        out = pd.DataFrame({"product_id": self.products_[top], "similarity": sims[top]})
        if "product_name" in self.embeddings_:
            out.insert(1, "product_name", self.embeddings_["product_name"].to_numpy()[top])
        return out

    def _neighbour_count(self, k) -> int:
        """``k`` checked: a whole number below the vocabulary's size (a product is never its own neighbour)."""
        check_is_fitted(self, "embeddings_")
        k = _checks.whole(k, "k")
        if k >= len(self.products_):
            raise ParamError(f"k={k} neighbours asked of a vocabulary of {len(self.products_)} products: "
                             f"give k of at most {len(self.products_) - 1}")
        return k

    def neighbours(self, k: int = 10) -> np.ndarray:
        """Indices (into ``products_``) of every product's ``k`` nearest neighbours by cosine, shape (n, k).

        Nearest first; a product is never its own neighbour, so ``k`` is at
        most the vocabulary's size less one.

        Parameters
        ----------
        k : int, default=10
            Neighbours per product.

        Returns
        -------
        ndarray of int64, shape (len(products_), k)
            Row ``i`` holds the neighbours of ``products_[i]``.
        """
        k = self._neighbour_count(k)
        vectors = self._vectors().astype(np.float64)
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        out = np.empty((len(unit), k), dtype=np.int64)
        for first in range(0, len(unit), 1024):  # bounded memory: 1024 rows of similarities at a time
            sims = unit[first:first + 1024] @ unit.T
            sims[np.arange(len(sims)), np.arange(first, first + len(sims))] = -np.inf
            top = np.argpartition(sims, sims.shape[1] - k, axis=1)[:, -k:]  # the k largest, unordered
            order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
            out[first:first + len(sims)] = np.take_along_axis(top, order, axis=1)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The output's column names, ``emb_0 ... emb_<d-1>``.

        Parameters
        ----------
        input_features : None
            Unused (the input is product ids).

        Returns
        -------
        ndarray of str
            One name per vector entry, as fitted.
        """
        check_is_fitted(self, "embeddings_")
        return np.array([c for c in self.embeddings_.columns if c.startswith("emb_")], dtype=object)  # as fitted


def _one_kind_of_id(ids: pd.Series) -> None:
    """Raise DataError when product ids (an object Series) mix text and numbers: 1 and "1" are not one product."""
    text = ids.map(lambda p: isinstance(p, (str, bytes))).to_numpy(dtype=bool)
    if text.any() and not text.all():
        number, word = ids[~text].iloc[0], ids[text].iloc[0]
        number = number.item() if isinstance(number, np.generic) else number
        raise DataError(f"the baskets mix product ids that are numbers ({number!r}) and text ({word!r}): "
                        "give every product id as a number, or every one as text")


def neighbour_score(model: Prod2Vec, products: pd.DataFrame, key: str = "aisle_id", k: int = 10) -> float:
    """Share of each product's ``k`` nearest neighbours that share its ``key`` (aisle or department).

    A perfect embedding of a planted structure scores 1.0; a random one
    scores about the chance that two products share the key.

    Parameters
    ----------
    model : Prod2Vec
        A fitted model.
    products : DataFrame
        ``product_id`` and the ``key`` column (products.csv's rows).
    key : str, default="aisle_id"
        The column whose sharing counts as a correct neighbour.
    k : int, default=10
        Neighbours per product.

    Returns
    -------
    float
        Between 0 and 1.
    """
    truth = products.set_index("product_id")[key].reindex(model.products_).to_numpy()
    nn = model.neighbours(k)
    return float((truth[nn] == truth[:, None]).mean())
