"""A real-time HTTP endpoint for a fitted time-series classifier.

``POST /invocations`` classifies series; ``GET /ping`` answers 200 when the
model is loaded. Bodies:

- ``text/csv``: one series per row, no header, no label (as for
  ``m5kit classify predict``); the answer is ``text/csv``, one label per
  row. With ``?proba=true`` the answer has a header ``label,<class>...`` and
  the class probabilities after each label.
- ``application/json``: ``{"instances": [[...], ...]}`` (a multivariate
  model takes ``[[[...], ...], ...]``, series x time x channels), and
  optionally ``"proba": true``; the answer is ``{"predictions": [...]}``,
  with ``"classes"`` and ``"probabilities"`` when asked.

The answer is of the body's type unless an ``Accept`` header asks for the
other (``Accept: application/json`` to a CSV body, say); an ``Accept`` that
allows neither is 406.

A bad body (empty, not a number, a series of the wrong length, bad JSON)
answers 400 with the one-line message as ``text/plain`` (another content
type: 415), and the server goes on serving.

It is the standard library's ``ThreadingHTTPServer``, not FastAPI + uvicorn:
no dependency to add, a thread per connection (HTTP/1.1 keep-alive), and the
work per request is one forward pass of a Keras model, CPU-bound and run
under one lock, which an asynchronous framework would not make faster. Each
connection gets a socket timeout, and bodies, with a Content-Length or chunked, are
capped (:data:`MAX_BODY`), so a slow or huge client cannot hold a thread forever.
Listens on 127.0.0.1 unless told otherwise.

Examples
--------
>>> server = make_server(clf, port=0)                   # doctest: +SKIP
>>> server.serve_forever()                              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np

from m5kit.errors import DataError, M5kitError, ParamError

__all__ = ["make_server", "invoke", "MAX_BODY"]

logger = logging.getLogger(__name__)

#: Largest request body accepted, in bytes.
MAX_BODY = 64 * 2**20
#: Most bytes of a body over :data:`MAX_BODY` read (and dropped) after its 413 answer, so that a client sending
#: it all before reading the answer gets it; past them the connection is closed.
DRAIN_LIMIT = 1024 * 2**20
#: Most seconds closing the server waits for the requests being answered.
CLOSE_WAIT = 30


class _MediaTypeError(DataError):
    """A content type the endpoint does not take (answered as HTTP 415)."""


class _NotAcceptableError(DataError):
    """An Accept header that allows neither answer type (answered as HTTP 406)."""


#: The media ranges of an Accept header that match each answer type, the most specific first.
_RANGES = {"text/csv": ("text/csv", "text/*", "*/*", "*"),
           "application/json": ("application/json", "application/*", "*/*", "*")}


def _answer_type(accept: str | None, kind: str) -> str:
    """The answer's content type: the one of the highest quality ``accept`` allows (each type's quality is that of
    the most specific range matching it: ``text/csv;q=0, */*`` refuses CSV); of equal ones, the one named first, else
    the body's ``kind``."""
    if accept is None or not accept.strip():
        return kind
    matched: dict = {}  # answer type -> (specificity, quality, position) of its most specific range
    for position, item in enumerate(accept.split(",")):
        media, *params = [part.strip() for part in item.split(";")]
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        for answer, ranges in _RANGES.items():
            if media.lower() in ranges:
                specificity = min(ranges.index(media.lower()), 2)  # */* and * alike
                if answer not in matched or specificity < matched[answer][0]:
                    matched[answer] = (specificity, quality, position)
    # of equal quality: a type named (or text/*, application/*) before one */* matches, then the first named
    allowed = [(-quality, specificity == 2, position, answer != kind, answer)
               for answer, (specificity, quality, position) in matched.items() if quality > 0]
    if not allowed:
        raise _NotAcceptableError(f"cannot answer Accept: {accept[:80]}: accept text/csv or application/json")
    return min(allowed)[4]


def _flag(value, query: bool = False) -> bool:
    """A request's proba, ``?proba=`` (``query``) or a JSON body's ``"proba"``: true or false (also 1, 0, yes, no;
    null: false), else one DataError line (it was read as false, the probabilities asked for left out unsaid)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    if query:
        raise DataError(f"invalid ?proba={value[:20]!r}: give ?proba=true or ?proba=false")
    shown = repr(value[:20]) if isinstance(value, str) else json.dumps(value)[:20]
    raise DataError(f"invalid \"proba\" {shown}: give \"proba\": true or false")


def invoke(clf, body: bytes, content_type: str, *, proba: bool = False, lock: threading.Lock | None = None,
           accept: str | None = None) -> tuple[str, bytes]:
    """Classify the series in one request body; return the answer's content type and body.

    Parameters
    ----------
    clf : fitted classifier
    body : bytes
    content_type : {"text/csv", "application/json"} or None
        The request's Content-Type header (parameters such as ``charset`` aside); None (no header): CSV.
    proba : bool
        Also give the class probabilities (JSON bodies may ask with ``"proba": true``).
    lock : threading.Lock, optional
        Held while the model predicts.
    accept : str, optional
        The request's Accept header: the answer's type when it asks for the
        other one (default: the body's type).

    Raises
    ------
    DataError
        A body the model cannot classify (one line, answered as HTTP 400).
    ParamError
        A ``body`` that is not bytes, or a ``proba`` neither False nor True.

    Examples
    --------
    >>> invoke(clf, b"0.1,0.5,0.2\\n", "text/csv")     # doctest: +SKIP
    ('text/csv; charset=utf-8', b'sine\\n')
    """
    from m5kit._checks import choice
    from m5kit.datasets.ucr import parse_series_text, predictions_csv

    if not isinstance(body, (bytes, bytearray)):  # text was a bare AttributeError (no .decode)
        raise ParamError(f"invalid body of type {type(body).__name__}: give the request body as bytes, e.g. text.encode()")
    proba = choice(proba, "proba", (False, True))  # the text 'no' was read as true

    kind = (content_type or "").split(";")[0].strip().lower()  # None: no header (Flask's request.content_type)
    if kind in ("text/csv", "text/plain", "", "application/json"):  # else 415 below, whatever the Accept
        answer_type = _answer_type(accept, "application/json" if kind == "application/json" else "text/csv")
    if not body.strip():
        raise DataError("empty body: give one series per row (text/csv) or {\"instances\": [[...]]} (application/json)")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("the body is not UTF-8 text: give CSV or JSON text") from None
    if kind == "application/json":
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"bad JSON ({exc.msg} at character {exc.pos}): give {{\"instances\": [[...], ...]}}") from None
        except RecursionError:
            raise DataError("the JSON is nested too deeply: give {\"instances\": [[...], ...]}") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
            raise DataError("the JSON has no list \"instances\": give {\"instances\": [[...], ...]}")
        if not payload["instances"]:
            raise DataError("\"instances\" is empty: give at least one series, {\"instances\": [[...], ...]}")
        proba = _flag(payload.get("proba")) or proba
        X = _instances(payload["instances"], clf)
    elif kind in ("text/csv", "text/plain", ""):
        if text[:4096].lstrip()[:1] in ("{", "["):  # no CSV of numbers starts so: it was read as a header row
            sent = f"as {kind}" if kind else "with no Content-Type"
            raise DataError(f"the body is JSON but was sent {sent}: send it with Content-Type: application/json")
        if clf.n_channels_ != 1:
            raise DataError(f"this model takes series of {clf.n_channels_} channels, which CSV cannot hold: send "
                            "application/json {\"instances\": [[[...], ...], ...]} (series x time x channels)")
        X, _ = parse_series_text(text, labels=False, source="the body", length=clf.series_length_)
    else:
        raise _MediaTypeError(f"unsupported content type {content_type!r}: send text/csv or application/json")
    if lock is None:
        probabilities = clf.predict_proba(X)
    else:
        with lock:
            probabilities = clf.predict_proba(X)
    labels = clf.classes_[np.argmax(probabilities, axis=1)]
    if answer_type == "application/json":
        answer: dict = {"predictions": labels.tolist()}
        if proba:
            answer["classes"] = clf.classes_.tolist()
            answer["probabilities"] = np.round(probabilities, 6).tolist()
        return "application/json", json.dumps(answer).encode()
    # the charset said: without it, clients (requests) decode text/csv as Latin-1, and "Zürich" read "ZÃ¼rich"
    return "text/csv; charset=utf-8", predictions_csv(labels, clf.classes_.tolist(),
                                                      probabilities if proba else None).encode()


def _instances(instances: list, clf) -> np.ndarray:
    """A JSON body's ``"instances"`` as the array ``clf`` takes; what is wrong with them as one DataError line."""
    length, channels = clf.series_length_, clf.n_channels_
    shape = f"[[...{length} numbers...], ...]" if channels == 1 else \
        f"[[[...{channels} numbers...], ...{length} time steps...], ...]"
    wrong = _non_number(instances)
    if wrong:  # numpy would take true and false as 1 and 0, and "1.5" as 1.5
        raise DataError(f"\"instances\" holds {wrong}, not numbers: give {shape}")
    try:
        with np.errstate(over="ignore"):  # beyond float32: told below
            X = np.asarray(instances, dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(f"\"instances\" holds non-numbers or series of different lengths: give {shape}") from None
    except OverflowError:  # an integer past float64's range (JSON's integers have no bound)
        raise DataError("\"instances\" has values beyond the range of 32-bit floats (about ±3.4e38): give finite "
                        "numbers") from None
    if channels == 1 and X.ndim == 3 and X.shape[2] == 1:
        X = X[:, :, 0]
    if X.ndim != (2 if channels == 1 else 3):
        what = "one list of numbers, not a list of series" if X.ndim == 1 else f"the shape {X.shape}"
        raise DataError(f"\"instances\" has {what}: give {shape}")
    if X.shape[1] != length or (channels > 1 and X.shape[2] != channels):
        said = f"length {X.shape[1]}" + (f" with {X.shape[2]} channel(s)" if channels > 1 else "")
        taken = f"length {length}" + (f" with {channels} channels" if channels > 1 else "")
        raise DataError(f"\"instances\" has series of {said} but the model takes {taken}: give {shape}")
    bad = ~np.isfinite(X)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise DataError(f"\"instances\" has null, NaN, infinite values or values beyond the range of 32-bit floats "
                        f"(first in series {row}): give finite numbers")
    return X


def _non_number(instances: list) -> str:
    """What the nested lists of a JSON body hold that is not a number or null (``""`` if nothing): a true or false,
    or a string."""
    lists = [instances]
    while lists:
        for value in lists.pop():
            if isinstance(value, list):
                lists.append(value)
            elif isinstance(value, bool):
                return "true or false"
            elif isinstance(value, str):
                return f"the string {value[:20]!r}"
    return ""


def _length(value: str) -> int:
    """A Content-Length header's value as a number of bytes, -1 if it is not one: ASCII digits alone, as HTTP has
    it (``int`` also took "+10", "1_0", " ١٠ ", which a proxy in front reads otherwise or not at all)."""
    value = value.strip(" \t")
    return int(value) if value.isascii() and value.isdigit() else -1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a connection may stay silent
    # the headers and the body are two writes: with Nagle's algorithm, the body waited for the client's delayed ACK
    # on a keep-alive connection, 40 ms an answer
    disable_nagle_algorithm = True
    server_version = "m5kit-classify"
    _unread = 0  # bytes of the request's body to drop after its answer (a 413's; see _discard_body)

    def log_message(self, format, *args):  # through logging, not stderr
        logger.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, content_type: str, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        headers = headers or {}
        if self.close_connection and "Connection" not in headers:  # else a keep-alive client sends its next request
            headers = {**headers, "Connection": "close"}  # on the connection closed after this answer
        elif self.request_version == "HTTP/1.0" and not self.close_connection:  # it asked for keep-alive: without
            headers = {**headers, "Connection": "keep-alive"}  # this, it waits for the close that ends its answers
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":  # its answer has the headers of the body, not the body
            self.wfile.write(body)
        if self._unread:  # a body too long to read, of a request refused unread: dropped now, after the answer
            # (up to DRAIN_LIMIT)
            unread, self._unread = self._unread, 0
            self._drain(unread)

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        self._send(status, "text/plain; charset=utf-8", (message + "\n").encode(), headers)

    def send_error(self, code, message=None, explain=None):
        """The standard library's errors (a malformed request line, a URL or headers too long) as one plain-text
        line, as the others, not its HTML page; a request line it could not read gets an HTTP/1.1 status line too."""
        reason = message or self.responses.get(code, ("error",))[0]
        if len(reason) > 100:  # it quotes the whole request line
            reason = reason[:100] + "..."
        if self.request_version == "HTTP/0.9":  # unread, so still the default: it would answer with no status line
            self.request_version = self.protocol_version
        self.close_connection = True
        self._error(code, f"{reason}: send an HTTP/1.1 request, POST /invocations with the series or GET /ping",
                    {"Connection": "close"})

    def do_GET(self):
        self._discard_body()  # a GET may have one: else read as the next request
        path = urlsplit(self.path).path
        if path == "/ping":
            self._send(HTTPStatus.OK, "text/plain; charset=utf-8", b"ok\n")
        else:
            self._refuse(path)

    def _refuse(self, path: str) -> None:
        """405 with the methods of ``path`` as Allow, or 404 if there is no such path."""
        if path == "/invocations":  # a browser's or a bare curl's GET: the resource is there, not its method
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed: POST the series to /invocations",
                        {"Allow": "POST"})
        elif path == "/ping":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed: GET /ping", {"Allow": "GET, HEAD"})
        else:
            self._error(HTTPStatus.NOT_FOUND, "not found: POST /invocations or GET /ping")

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path != "/invocations":
            self._discard_body()
            self._refuse(url.path)
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():  # requests with a generator, curl -T -, Go
            if "Content-Length" in self.headers:  # a proxy in front may have taken it for the body's end: HTTP/1.1
                self.close_connection = True  # closes after the answer (RFC 9112 6.3), it was kept open
            body = self._chunked_body()
            if body is not None:
                self._checked_answer(url, body)
            return
        given = self.headers.get_all("Content-Length") or ["0"]
        # differing ones: which is the body's end is unknown, the rest would be read as the next request
        length = _length(given[0]) if len({value.strip() for value in given}) == 1 else -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            if length < 0:
                self._error(HTTPStatus.BAD_REQUEST,
                            f"give {'one ' if len(given) > 1 else 'a '}Content-Length from 0 to {MAX_BODY} bytes")
            else:  # it said "give a Content-Length from 0 to 67108864 bytes", to a client that had not set one
                # dropped after the answer (by _send): a client that sends its whole body before reading (http.client,
                # requests) got a broken pipe instead, the connection closed on it still sending
                self._unread = length
                self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body of {length} bytes is over the limit of "
                            f"{MAX_BODY} bytes: send its series in several requests")
            return
        try:
            body = self.rfile.read(length)
        except TimeoutError:  # the client waits for an answer to a body shorter than it said (it got none: a close)
            self.close_connection = True
            self._error(HTTPStatus.REQUEST_TIMEOUT, f"the body stopped short of the Content-Length's {length} bytes "
                        f"(nothing more came for {self.timeout:g} s): give the body's size in bytes as its "
                        "Content-Length")
            return
        if len(body) < length:  # the client stopped sending (closed its side) short of its Content-Length
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, f"the body ended after {len(body)} of the Content-Length's {length} "
                        "bytes: give the body's size in bytes as its Content-Length")
            return
        self._checked_answer(url, body)

    def _chunked_body(self) -> bytes | None:
        """The body of a chunked POST; None when it was refused (an answer sent, the connection closed after it)."""
        try:
            body, problem = self._read_chunks()
        except TimeoutError:  # the client waits for an answer to a body it has not finished
            self.close_connection = True
            self._error(HTTPStatus.REQUEST_TIMEOUT, f"the chunked body stopped before its last (empty) chunk (nothing "
                        f"more came for {self.timeout:g} s): end it with a chunk of size 0")
            return None
        if problem is None:
            return body
        self.close_connection = True  # the rest of the body, if any, is unread
        if problem == "large":
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the chunked body is over the limit of {MAX_BODY} bytes: "
                        "send its series in several requests")
        else:
            self._error(HTTPStatus.BAD_REQUEST, "the body is not in chunked framing (each chunk its size in hex on a "
                        "line, a last chunk of size 0): frame it so, or send it with a Content-Length")
        return None

    def _checked_answer(self, url, body: bytes) -> None:
        """Answer a POST's whole ``body``: 415 for a compressed one, else its classes."""
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "identity"):  # else "the body is not UTF-8 text" (of CSV gzipped)
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Encoding {encoding[:40]!r} is not supported: "
                        "send the body uncompressed")
            return
        with self.server.answering():  # a close waits for its answer (not for a body still coming)
            self._answer(url, body)

    def _answer(self, url, body: bytes) -> None:
        """Classify the series of a POST's ``body`` and answer."""
        start = time.perf_counter()
        try:
            proba = _flag(parse_qs(url.query, keep_blank_values=True).get("proba", [None])[0], query=True)
            kind, answer = invoke(self.server.clf, body, self.headers.get("Content-Type"),
                                  proba=proba, lock=self.server.lock, accept=self.headers.get("Accept"))
        except _MediaTypeError as exc:
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(exc))
            return
        except _NotAcceptableError as exc:
            self._error(HTTPStatus.NOT_ACCEPTABLE, str(exc))
            return
        except M5kitError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        except Exception as exc:  # a bug, not the client's fault: answer 500 and keep serving
            logger.exception("invocation failed")
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error ({type(exc).__name__})")
            return
        logger.debug("invocation of %d bytes in %.1f ms", len(body), 1e3 * (time.perf_counter() - start))
        self._send(HTTPStatus.OK, kind, answer)

    def _not_allowed(self):  # Allow named every method of either path (GET, HEAD, POST), and a path not there was 405
        self._discard_body()
        self._refuse(urlsplit(self.path).path)

    do_HEAD = do_GET  # the headers of GET's answer (a load balancer's health check); _send leaves out the body
    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # else the standard library's 501 HTML page

    def _read_chunks(self, keep: bool = True) -> tuple[bytes | None, str | None]:
        """Read a chunked body to its last chunk and trailers: ``(body, None)``; ``(None, "large")`` past
        :data:`MAX_BODY` bytes of chunks (read on, dropped, up to :data:`DRAIN_LIMIT`, so that a client still sending
        gets the answer), ``(None, "framing")`` for what is no chunked framing. ``keep=False`` drops the chunks."""
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            # hex digits alone (RFC 9112 7.1), then spaces before a ";extension": int(x, 16) also took "0x10", "+10",
            # " 10" and "1_0", which a proxy in front reads otherwise or not at all
            digits = line.split(b";")[0].rstrip(b" \t\r\n")
            if not digits or digits.strip(b"0123456789abcdefABCDEF"):  # no more input, or not chunked framing
                return None, "framing"
            size = int(digits, 16)
            if size == 0:
                break
            total += size
            if total > DRAIN_LIMIT:
                return None, "large"
            pieces, left = [], size + 2  # the chunk and its CRLF, read in pieces: one over MAX_BODY was held whole
            end = b""  # the last 2 bytes read: the chunk's CRLF (else its size is not its length)
            while left > 0:  # (up to DRAIN_LIMIT, 1 GiB, per connection)
                piece = self.rfile.read(min(left, 2**20))
                if not piece:  # the connection closed inside the chunk
                    return None, "framing"
                left -= len(piece)
                end = (end + piece)[-2:]
                if keep and total <= MAX_BODY:
                    pieces.append(piece)
            if end != b"\r\n":  # what was there was dropped unread, and the rest read on as the next chunk's size
                return None, "framing"
            if pieces:
                parts.append(b"".join(pieces)[:size])
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):  # trailers, up to the empty line
            pass
        if total > MAX_BODY:
            return None, "large"
        return (b"".join(parts) if keep else None), None

    def _discard_chunks(self) -> None:
        """Read a chunked body to its last chunk and trailers (:meth:`_read_chunks`), unused."""
        self._read_chunks(keep=False)

    def _drain(self, length: int) -> None:
        """Read and drop up to ``length`` bytes of a body refused unread (at most :data:`DRAIN_LIMIT`), until the
        client stops sending or goes silent for the socket timeout."""
        left = min(length, DRAIN_LIMIT)
        try:
            while left > 0:
                chunk = self.rfile.read1(min(left, 2**20))
                if not chunk:
                    return
                left -= len(chunk)
        except OSError:  # reset by the client, or silent for the timeout: the connection is closed anyway
            return

    def _discard_body(self) -> None:
        try:
            self._drop_body()
        except TimeoutError:  # the client waits with its body unfinished: the answer, then the close (there was none:
            self.close_connection = True  # 'Empty reply from server' after the socket timeout)

    def _drop_body(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():  # else read as the next request
            self.close_connection = True  # its end may not have been read
            self._discard_chunks()
            return
        length = _length(self.headers.get("Content-Length", "0"))
        if 0 < length <= MAX_BODY:
            self.rfile.read(length)
        elif length != 0:  # not a length, or too long to read: unread
            self.close_connection = True
            if MAX_BODY < length <= DRAIN_LIMIT:  # read and dropped after the answer (by _send): a client sending it
                self._unread = length  # all before reading got a broken pipe, not the 404/405 that says what is wrong


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # connections waiting to be accepted: socketserver's 5 dropped the rest of a burst, whose clients retried for
    # seconds (100 at once waited 1.4 s at the median, up to 27 s)
    request_queue_size = socket.SOMAXCONN

    def __init__(self, *args, **kwargs):
        self._posts = 0  # POSTs being classified or answered
        self._all_answered = threading.Condition()
        super().__init__(*args, **kwargs)  # after them: a failed bind calls server_close

    @contextlib.contextmanager
    def answering(self):
        """Counts the POST inside as being answered, which :meth:`server_close` waits for."""
        with self._all_answered:
            self._posts += 1
        try:
            yield
        finally:
            with self._all_answered:
                self._posts -= 1
                self._all_answered.notify_all()

    def server_close(self):
        """Stop listening, then wait (up to :data:`CLOSE_WAIT` seconds) for the POSTs being classified or answered:
        the process ending after it (serve's Ctrl-C, SIGTERM) cut them, their clients without an answer."""
        super().server_close()
        with self._all_answered:
            self._all_answered.wait_for(lambda: self._posts == 0, timeout=CLOSE_WAIT)

    def handle_error(self, request, client_address):
        """A client gone before its answer (reset, closed: it gave up or timed out) as one log line; other errors as
        the standard library shows them (it printed a 15-line traceback on stderr for each such client)."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            logger.info("%s closed the connection before its answer (%s)", client_address[0],
                        exc.strerror or type(exc).__name__)
        else:
            super().handle_error(request, client_address)


def make_server(clf, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    """An HTTP server for ``clf`` (not started: call ``serve_forever``; ``port=0`` picks a free port).

    The model's predict function is traced here, once, so the first request
    is as fast as the others.

    Parameters
    ----------
    clf : InceptionTimeClassifier or LSTMFCNClassifier
        A fitted classifier (:func:`~m5kit.models.classifier_folder.load_classifier`).
    host : str, default="127.0.0.1"
        The address to listen on (``"0.0.0.0"``: every interface).
    port : int, default=8080
        The port; 0 picks a free one.

    Returns
    -------
    http.server.ThreadingHTTPServer
        With ``server_address`` the address it listens on.
    """
    return serve_model(bind(host, port), clf)


def bind(host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    """The server listening on ``host:port`` with no model yet (:func:`serve_model` gives it one).

    Binding first tells a taken port before the model is loaded (``OSError``).
    An IPv6 address (``"::1"``, ``"[::1]"``, ``"::"``) listens over IPv6.
    """
    if host.startswith("[") and host.endswith("]"):  # as in a URL
        host = host[1:-1]
    if ":" in host:  # the server was IPv4 only: "Address family for hostname not supported"
        return _Server6((host, int(port)), _Handler)
    return _Server((host, int(port)), _Handler)


class _Server6(_Server):
    address_family = socket.AF_INET6


def serve_model(server: ThreadingHTTPServer, clf) -> ThreadingHTTPServer:
    """``server`` (from :func:`bind`) answering with ``clf``, its predict function traced once."""
    server.clf = clf
    server.lock = threading.Lock()
    shape = (1, clf.series_length_) if clf.n_channels_ == 1 else (1, clf.series_length_, clf.n_channels_)
    clf.predict_proba(np.zeros(shape, dtype=np.float32))  # warm up: trace before the first request
    return server
