"""Shared fixtures: a real two-worker LocalCluster, started once per test session."""

from __future__ import annotations

from m5kit.execution.threads import limit_threads

limit_threads()  # one backend thread in the test process too, before any Keras import

import importlib
import sys

# MLflow reconfigures logging (logging.config.dictConfig on import before 3.16, alembic's fileConfig when it sets up
# an SQLite store before 3.7), which closes every logging handler of the process. absl's handler (TensorFlow imports absl) then
# closes its stream unless it is sys.stderr at that moment; made during a test, that stream is pytest's capture of
# stderr, and MLflow set up inside a CliRunner call (`m5kit train` recording its run) closed it: the test failed and
# pytest itself ended in "ValueError: I/O operation on closed file" ("lost sys.stderr"). Made here on the real
# stderr, absl's handler never closes it.
_stderr, sys.stderr = sys.stderr, sys.__stderr__
try:
    importlib.import_module("absl.logging")
except ImportError:
    pass
finally:
    sys.stderr = _stderr

import pytest


@pytest.fixture(scope="session")
def dask_client():
    """A real LocalCluster (2 single-thread workers, loopback only), shared by the tests."""
    from m5kit.execution.cluster import close_local_clusters, open_client

    with open_client(n_workers=2) as client:  # the same cluster the README tour asks for
        yield client
    close_local_clusters()


@pytest.fixture
def port_8787_taken():
    """Port 8787 (Dask's dashboard) held for the test, so that a cluster started in it meets a taken port."""
    import socket

    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))  # else something holds it already
        holder.listen()
    except OSError:
        pass
    try:
        yield
    finally:
        holder.close()
