"""The part of the report on the production layout (``scripts/bench --cluster N``): one row per size."""

from .text import fmt, pct, table


def layouts_section(layouts: dict) -> list[str]:
    lines = [
        "## Through HAProxy: the production layout",
        "",
        "`deploy.cluster.Cluster` with 1..N daphne servers behind HAProxy, Redis with Sentinel and the",
        "layout's own PostgreSQL (settings `secureai.settings.local`, the demo's worker stopped). Events go",
        "through `POST /api/analyses/<id>/transition/` via HAProxy; sockets open through HAProxy,",
        'authenticated and subscribed. CPU and memory are summed over the servers. The row "1, no pool"',
        "is one server with `DATABASE_POOL=false` and `DATABASE_CONN_MAX_AGE=0`: a database connection per",
        "request, as without Django's pool. The sustained rate is the benchmark's sustained scenario (one",
        "analysis, its subscribers through HAProxy, the producer committing in its own process) on the layout.",
        "",
    ]
    header = ["servers", "case", "events/s asked / reached", "lost", "p50 / p95 / p99 ms", "servers' CPU / waited"]
    header += ["connects/s", "handshake p50 / p99 ms", "connect failures", "KiB/socket"]
    header += ["sustained events/s (deliveries/s), one analysis", "stopped by"]
    rows = []
    for servers, figures in layouts.items():
        connects = figures.get("connects") or {}
        for key, w in figures["latency"].items() or [("-", None)]:
            rows.append(
                [
                    servers,
                    key,
                    *(_latency_cells(w) if w else ["-"] * 4),
                    fmt(connects.get("connects_per_second"), 0),
                    f"{fmt(connects.get('handshake_p50_ms'), 0)} / {fmt(connects.get('handshake_p99_ms'), 0)}",
                    str(connects.get("failures") or 0),
                    fmt(connects.get("kib_per_socket")),
                    *_sustained_cells(figures.get("sustained")),
                ]
            )
    return lines + table(header, rows)


def _latency_cells(w: dict) -> list[str]:
    return [
        f"{fmt(w['asked_rate'], 0)} / {fmt(w['achieved_rate'])}",
        f"{w['lost']:,} of {w['expected_deliveries']:,}",
        f"{fmt(w['p50_ms'], 1)} / {fmt(w['p95_ms'], 1)} / {fmt(w['p99_ms'], 1)}",
        f"{pct(w['server_cpu'])} / {pct(w['server_cpu_wait'])}",
    ]


def _sustained_cells(figures: dict | None) -> list[str]:
    if not figures:
        return ["-", "-"]
    events, deliveries = figures["sustained_events_per_second"], figures["sustained_deliveries_per_second"]
    return [f"{fmt(events, 0)} ({fmt(deliveries, 0)})", figures["stopped_by"]]
