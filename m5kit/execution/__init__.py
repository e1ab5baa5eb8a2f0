"""Where m5kit's work runs: the Dask client and cluster, the worker plugin, one thread per worker.

:mod:`m5kit.execution.cluster` is the one owner of the Dask client; the
estimators call it and import nothing of Dask themselves.
"""
