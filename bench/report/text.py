"""How the report writes numbers, ratios and tables."""

from typing import Any


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ratio(ours: Any, relay: Any) -> str:
    if not isinstance(ours, int | float) or not isinstance(relay, int | float) or relay == 0:
        return "-"
    return f"{ours / relay:.2f}x"


def pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f} %"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def get(results: dict, *path: str) -> Any:
    """``results[path[0]][path[1]]...``, or None where a key is missing."""
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def case_label(figures: dict) -> str:
    """A latency window's case: sockets, analyses, rate."""
    if not figures:
        return ""
    return (
        f"{figures['sockets']:,} sockets / {figures['analyses']:,} analyses / {fmt(figures['asked_rate'], 0)} events/s"
    )


def windows(db: dict) -> list[tuple[str, str, dict]]:
    """Every load window of one database's run: (scenario, target, figures)."""
    found = []
    for key, figures in db["latency"].items():
        found += [(f"latency {key}", target, figures[target]) for target in ("ours", "relay") if target in figures]
    for target, figures in db["sustained"].items():
        found += [(f"one analysis at {fmt(step['asked_rate'], 0)}/s", target, step) for step in figures["steps"]]
    return found


def sustained_figure(db: dict, target: str, field: str) -> str:
    figures = db["sustained"].get(target)
    if not figures:
        return "-"
    if figures[field] is None:
        lowest = figures["lowest_rate"] * (figures["subscribers"] if field.endswith("deliveries_per_second") else 1)
        return f"below {fmt(lowest, 0)} (no step passed)"
    return fmt(figures[field], 0)


def last_ok_stage(figures: dict) -> dict:
    stages = [stage for stage in figures.get("stages", []) if stage["ok"]]
    return stages[-1] if stages else {}
