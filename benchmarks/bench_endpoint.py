"""Requests per second and p50/p99 latency of ``m5kit classify serve`` on loopback.

Usage::

    python benchmarks/bench_endpoint.py --model DIR [--requests 300] [--clients 2]

Starts the endpoint for the model folder in this process (a free loopback
port), then ``--clients`` threads each send ``--requests`` requests of 1 row
and of 100 rows (``text/csv``, one connection each, keep-alive): a bounded
load generator. Prints the command, machine, and per row count the requests
per second, p50/p99 latency and failed requests.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np


def _client(port: int, body: bytes, n: int, latencies: list, failures: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(n):
        start = time.perf_counter()
        try:
            conn.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            ok = False
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies.append(time.perf_counter() - start)
        if not ok:
            failures.append(1)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=300, help="per client and row count")
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()

    from m5kit.execution.threads import limit_threads

    limit_threads()
    from m5kit.models.classifier_folder import load_classifier
    from m5kit.serving import make_server

    clf = load_classifier(args.model)
    server = make_server(clf, "127.0.0.1", 0)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, python {platform.python_version()}; "
          f"model {type(clf).__name__}, length {clf.series_length_}")
    rng = np.random.default_rng(0)
    try:
        for rows in (1, 100):
            body = "\n".join(",".join(f"{v:.4f}" for v in rng.normal(size=clf.series_length_))
                             for _ in range(rows)).encode() + b"\n"
            latencies: list[float] = []
            failures: list[int] = []
            threads = [threading.Thread(target=_client, args=(port, body, args.requests, latencies, failures))
                       for _ in range(args.clients)]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - start
            ms = np.percentile(np.asarray(latencies) * 1e3, [50, 99])
            print(f"{rows:4d} row(s): {len(latencies) / wall:7.1f} requests/s, p50 {ms[0]:.1f} ms, "
                  f"p99 {ms[1]:.1f} ms, {len(failures)} failed of {len(latencies)}")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
