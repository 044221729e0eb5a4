"""The part of the report on the production layout (``scripts/bench --cluster N``): one row per size."""

from .text import fmt, pct, table


def layouts_section(layouts: dict) -> list[str]:
    lines = [
        "## Through HAProxy: the production layout",
        "",
        "`deploy.cluster.Cluster` with 1..N daphne servers behind HAProxy, Redis with Sentinel and the",
        "layout's own PostgreSQL (settings `secureai.settings.local`, the demo's worker stopped). Events go",
        "through `POST /api/analyses/<id>/transition/` via HAProxy; sockets open through HAProxy,",
        "authenticated and subscribed. CPU and memory are summed over the servers.",
        "",
    ]
    header = ["servers", "case", "events/s asked / reached", "lost", "p50 / p95 / p99 ms", "servers' CPU / waited"]
    header += ["connects/s", "handshake p50 / p99 ms", "connect failures", "KiB/socket"]
    rows = []
    for servers, figures in layouts.items():
        connects = figures.get("connects") or {}
        for key, w in figures["latency"].items():
            rows.append(
                [
                    servers,
                    key,
                    f"{fmt(w['asked_rate'], 0)} / {fmt(w['achieved_rate'])}",
                    f"{w['lost']:,} of {w['expected_deliveries']:,}",
                    f"{fmt(w['p50_ms'], 1)} / {fmt(w['p95_ms'], 1)} / {fmt(w['p99_ms'], 1)}",
                    f"{pct(w['server_cpu'])} / {pct(w['server_cpu_wait'])}",
                    fmt(connects.get("connects_per_second"), 0),
                    f"{fmt(connects.get('handshake_p50_ms'), 0)} / {fmt(connects.get('handshake_p99_ms'), 0)}",
                    str(connects.get("failures") or 0),
                    fmt(connects.get("kib_per_socket")),
                ]
            )
    return lines + table(header, rows)
