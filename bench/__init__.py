"""The benchmark: our status service against a bare Channels relay, measured in the same run.

Run it with ``scripts/bench`` (``--quick`` for a short smoke check); ``bench.run`` is the entry
point and docs/performance.md the report it writes.
"""
