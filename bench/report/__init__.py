"""Turns the raw figures of a run into docs/performance.md: a part per database, with results, ratios,
targets and details, then the method and the machine.

``python -m bench.report docs/performance.json docs/performance.md`` renders a report again from
the raw figures of a run, without running anything.
"""

from .document import render

__all__ = ["render"]
