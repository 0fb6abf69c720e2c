"""Benchmarks of distro, run by ``make bench`` (``python -m benchmarks``); not part of the tests.

- ``data``: the benchmark dataset, loaded once into a DynamoDB Local data folder and cached.
- ``ceiling``: the bare-HTTP reference loop (aiohttp + SigV4, no SDK) that distro is held to.
- ``readers``: distro's counting loop alone, with the lean reader or the SDK's.
- ``scale``: the pipeline's own cost per space with an instant fake reader, a resume from a
  checkpoint of every space, the balancer,
  and the checkpoint journal, at sizes far beyond what a local database can hold.
- ``shards``: ``analyze --count-shards`` against plain ``analyze`` on a dataset built in the
  run (no cache), with client CPU per Query page.
- ``measure``: wall time, CPU time and peak RSS of one child process.
- ``__main__``: runs them all, side by side, and writes ``benchmarks/RESULTS.md``.
"""
