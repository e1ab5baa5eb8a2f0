"""The dispatch layer: one task per group, on a real LocalCluster or in-process."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from m5kit.execution.cluster import Task, open_client, run_chains, run_tasks
from m5kit.errors import ClusterError, ParamError


def _total(frame, offset):
    return float(frame["x"].sum()) + offset


def _pid_and_threads(frame):
    return (os.getpid(), os.environ.get("OMP_NUM_THREADS"), os.environ.get("TF_NUM_INTRAOP_THREADS"),
            os.environ.get("MALLOC_TRIM_THRESHOLD_"))


def _fail_on(frame, bad):
    if frame["g"].iloc[0] == bad:
        raise ValueError(f"bad group {bad}")
    return len(frame)


def _groups(n=5):
    frame = pd.DataFrame({"g": [f"G{i}" for i in range(n) for _ in range(3)], "x": range(3 * n)})
    return {name: part for name, part in frame.groupby("g")}


def test_tasks_on_dask_return_each_groups_own_result(dask_client):
    """Each group's task sees only its own rows, and results come back keyed by group."""
    parts = _groups()
    tasks = [Task(name, _total, part, (0.5,)) for name, part in parts.items()]
    outcomes = run_tasks(tasks, dask_client)
    assert [o.name for o in outcomes] == list(parts)
    assert [o.result for o in outcomes] == [float(p["x"].sum()) + 0.5 for p in parts.values()]


def test_serial_and_dask_give_the_same_results(dask_client):
    """The in-process path and the Dask path compute the same thing."""
    tasks = [Task(name, _total, part, (1.0,)) for name, part in _groups().items()]
    assert [o.result for o in run_tasks(tasks, None)] == [o.result for o in run_tasks(tasks, dask_client)]


def test_a_failing_group_does_not_stop_the_others(dask_client):
    """A group whose task raises is reported with its error; the others finish."""
    tasks = [Task(name, _fail_on, part, ("G2",)) for name, part in _groups().items()]
    for client in (None, dask_client):
        outcomes = {o.name: o for o in run_tasks(tasks, client)}
        assert not outcomes["G2"].ok and "bad group G2" in str(outcomes["G2"].error)
        assert all(outcomes[n].ok and outcomes[n].result == 3 for n in outcomes if n != "G2")


def test_workers_run_with_one_thread_settings(dask_client):
    """m5kit's LocalCluster starts every worker with the one-thread environment.

    And without Dask's MALLOC_TRIM_THRESHOLD_ (65536): any value of it also
    fixes glibc's mmap threshold, so every array above 128 KiB had its pages
    zeroed afresh (small Keras fits ~15% slower, prod2vec trials 20-25%).
    """
    outcomes = run_tasks([Task(n, _pid_and_threads, p) for n, p in _groups(4).items()], dask_client)
    pids = {o.result[0] for o in outcomes}
    assert os.getpid() not in pids
    yours = os.environ.get("MALLOC_TRIM_THRESHOLD_")  # one the test run itself was given is passed on
    assert {o.result[1:] for o in outcomes} == {("1", "1", yours)}


def _ctrl_c_on_worker():
    """Ctrl-C as the terminal sends it to this worker's process: whether the worker lived on with its Dask log quiet."""
    import logging
    import signal

    log = logging.getLogger("distributed")
    level = log.level
    signal.raise_signal(signal.SIGINT)
    quiet = log.level == logging.CRITICAL
    log.setLevel(level)
    return quiet


def test_local_workers_leave_ctrl_c_to_the_command(dask_client):
    """Ctrl-C reaches m5kit's own workers too (one process group): 1 in 3 interrupted `classify train --workers 2`
    or `classify tune` printed a worker's "Process Dask Worker process (from Nanny): Traceback ... KeyboardInterrupt"
    after the `interrupted` line; the workers now keep running, quietly, and the command closes the cluster."""
    assert set(dask_client.run(_ctrl_c_on_worker).values()) == {True}
    assert len(dask_client.scheduler_info()["workers"]) == 2


@pytest.mark.parametrize("started_with_one_thread", [True, False])
def test_thread_plugin_warns_only_of_a_backend_imported_with_more_threads(started_with_one_thread, monkeypatch,
                                                                          caplog):
    """A worker started with the one-thread environment that imported its backend (m5kit's LocalCluster, warmed
    as `m5kit bench scaling` warms it) was told to "start workers with OMP_NUM_THREADS=1 ..." all the same."""
    import sys
    import types

    from m5kit.execution.plugin import ThreadLimitPlugin
    from m5kit.execution.threads import THREAD_ENV

    for key, value in THREAD_ENV.items():
        if started_with_one_thread:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setitem(sys.modules, "jax", types.ModuleType("jax"))  # a backend imported before the plugin ran
    with caplog.at_level("WARNING", logger="m5kit.execution.plugin"):
        ThreadLimitPlugin().setup(types.SimpleNamespace(address="tcp://127.0.0.1:1"))
    warned = "imported its Keras backend before m5kit limited its threads" in caplog.text
    assert warned is not started_with_one_thread, caplog.text
    assert os.environ["OMP_NUM_THREADS"] == "1"


def test_in_process_tasks_run_blas_on_one_thread_as_the_workers_do():
    """A script that imported NumPy before m5kit has BLAS on every core; its in-process fits still use one thread.

    (A multi-threaded BLAS sums in another order: a Ridge per group fitted in-process differed from the
    cluster's in the 5th digit.) The script's own setting is back after the run.
    """
    import subprocess
    import sys

    script = (
        "import os\n"
        "for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ.pop(k, None)\n"
        "import numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "from m5kit.execution.cluster import Task, run_tasks\n"
        "def blas(_):\n"
        "    return max(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas')\n"
        "before = blas(None)\n"
        "(outcome,) = run_tasks([Task('g', blas, None)], None)\n"
        "print(before, outcome.result, blas(None))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    before, inside, after = map(int, proc.stdout.split())
    if before == 1:
        pytest.skip("this machine's BLAS runs one thread anyway")
    assert inside == 1 and after == before


def test_progress_callback_sees_every_group(dask_client):
    """The on_done hook (progress bars) is called once per finished group."""
    seen = []
    run_tasks([Task(n, _total, p, (0.0,)) for n, p in _groups(6).items()], dask_client, on_done=lambda o: seen.append(o.name))
    assert sorted(seen) == sorted(_groups(6))


def _chain_link(data, chain, step, state):
    """A chain's step: waits a little, then appends (chain, step, start time) to the state it was given."""
    import time

    start = time.time()
    time.sleep(0.3)
    if (chain, step) == data["fail"]:
        raise ValueError(f"bad step {chain}.{step}")
    return (state or []) + [(chain, step, start)]


def test_chains_run_each_step_on_its_own_chains_state_breadth_first(dask_client):
    """Each step continues its own chain's state; first steps go before second ones; a failed step ends its chain only."""
    chains = [[(_chain_link, (c, k)) for k in range(2)] for c in "ABC"]
    done = []
    outcomes = run_chains({"fail": None}, chains, ["A", "B", "C"], dask_client, on_done=lambda o: done.append(o.name))
    assert sorted(done) == ["A", "B", "C"] and [o.name for o in outcomes] == ["A", "B", "C"]
    for outcome, chain in zip(outcomes, "ABC"):
        assert [(c, k) for c, k, _ in outcome.result] == [(chain, 0), (chain, 1)]
    starts = {(c, k): t for o in outcomes for c, k, t in o.result}
    # 2 workers: A0 and B0 first, then C0 before the last of the second steps (not A0 A1 B0 B1, then C alone)
    assert starts["C", 0] < max(starts["A", 1], starts["B", 1])
    assert max(starts["A", 0], starts["B", 0]) < min(starts["A", 1], starts["B", 1], starts["C", 1])

    outcomes = run_chains({"fail": ("B", 0)}, chains, ["A", "B", "C"], dask_client)
    assert not outcomes[1].ok and "bad step B.0" in str(outcomes[1].error)
    assert outcomes[0].ok and outcomes[2].ok and len(outcomes[2].result) == 2


@pytest.mark.parametrize("bad", [0, -1, "x", 1.5, True])
def test_bad_worker_counts_are_rejected(bad):
    """Workers 0, negative or not a whole number give one clear error before any cluster starts."""
    with pytest.raises(ParamError, match="invalid number of workers"), open_client(n_workers=bad):
        pass


def test_a_client_that_is_not_a_dask_client_is_one_param_error():
    """client='tcp://...' (an address where a Client belongs) is one ParamError pointing to scheduler= (it was a bare
    AttributeError: 'str' object has no attribute 'register_plugin')."""
    with pytest.raises(ParamError, match="^client must be a distributed.Client, got a str: pass an address as "
                                         "scheduler= instead$"), open_client(client="tcp://127.0.0.1:8786"):
        pass


def test_a_closed_client_is_one_cluster_error(dask_client):
    """An estimator still holding client= after its client was closed (client.close() in a notebook, then fit again)
    got a bare AttributeError: 'NoneType' object has no attribute 'register_worker_plugin'."""
    from distributed import Client

    closed = Client(dask_client.scheduler.address, set_as_default=False)
    closed.close()
    with pytest.raises(ClusterError, match="^the Dask client given is closed: pass a running distributed.Client"):
        with open_client(client=closed):
            pass


def test_a_scheduler_without_workers_is_one_cluster_error_after_the_timeout():
    """`--scheduler` of a scheduler no worker joined (`dask worker` not started yet): the fit's scatter gave up with
    Dask's "TimeoutError: No valid workers found" traceback; now one ClusterError after --timeout says what to start."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        with pytest.raises(ClusterError, match=rf"^the Dask scheduler at {address} has no worker \(none joined within "
                                               rf"1 s\): start workers with `dask worker {address}`"):
            with open_client(scheduler=address, timeout=1):
                pass


def test_unreachable_scheduler_fails_fast_with_its_address():
    """An unreachable scheduler fails within the timeout and names the address."""
    with pytest.raises(ClusterError, match=r"tcp://127\.0\.0\.1:1 "):
        with open_client(scheduler="tcp://127.0.0.1:1", timeout=2):
            pass


def test_a_worker_of_m5kits_own_cluster_says_nothing_when_the_scheduler_goes_first(tmp_path):
    """The command's scheduler gone before a worker's heartbeat: no 30-line traceback on the terminal at exit.

    At the end of a README main job a worker of m5kit's own cluster once printed Dask's "Failed to
    communicate with scheduler during heartbeat" record with its chained tracebacks after the result;
    stopping the scheduler's listener makes that race certain here.
    """
    import subprocess
    import sys

    script = (
        "import time\n"
        "from m5kit.execution.cluster import open_client\n"
        "if __name__ == '__main__':\n"
        "    with open_client(1, dashboard=False) as c:\n"
        "        print(c.submit(abs, -2).result())\n"
        "        for listener in c.cluster.scheduler.listeners:\n"
        "            listener.stop()\n"
        "        time.sleep(2.5)\n"
    )
    path = tmp_path / "race.py"
    path.write_text(script)
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.split()[0] == "2", proc.stderr
    assert "heartbeat" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
