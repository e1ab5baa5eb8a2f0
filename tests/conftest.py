"""Shared fixtures: a real two-worker LocalCluster, started once per test session."""

from __future__ import annotations

from m5kit.execution.threads import limit_threads

limit_threads()  # one backend thread in the test process too, before any Keras import

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
