"""The analysis worker: claims queued analyses and drives them through the six stages.

- ``claiming``: take the oldest queued analysis (several workers at once, each claimed once) and
  report on it with resend-safe transition ids;
- ``pipeline``: the pluggable steps named by ``settings.WORKER["PIPELINE"]`` and their runner;
- ``demo_detector``: the default steps, a demonstration that takes time, fails now and then, decides;
- ``heartbeat``: signs of life of a held analysis, and failing those whose worker went silent;
- ``retries``: requeueing failures after a backoff while retries are left;
- ``loop``: the worker itself, and what stopping it does to the analysis it holds;
- ``embedded``: the same loop inside the daphne process, for the single-process demo.

Every change to an analysis goes through ``analyses.services.analysis_transition``.
"""
