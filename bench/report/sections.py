"""The sections of one database's part of the report: summary, details of each scenario, errors."""

from .text import case_label, fmt, get, last_ok_stage, pct, ratio, sustained_figure, table

WINDOW_HEADER = [
    "",
    "events/s asked / reached",
    "received / expected",
    "deliveries/s",
    "lost",
    "dup+reorder / gaps",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "server CPU / waited",
    "busiest client CPU / waited",
    "producer CPU / waited",
]


def summary(db: dict) -> list[str]:
    rows = []
    writes = db["writes"]
    if writes:
        ours, relay = writes.get("ours", {}), writes.get("relay", {})
        rows.append(
            [
                "Committed transitions/s through the HTTP API (relay: publishes/s), best closed loop",
                fmt(ours.get("best_per_second"), 0),
                fmt(relay.get("best_per_second"), 0),
                ratio(ours.get("best_per_second"), relay.get("best_per_second")),
            ]
        )
    for figures in db["latency"].values():
        ours, relay = figures.get("ours", {}), figures.get("relay", {})
        label = case_label(ours or relay)
        for field, name in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
            rows.append(
                [
                    f"Latency {name} through the HTTP API, {label} (ms)",
                    fmt(ours.get(field), 2),
                    fmt(relay.get(field), 2),
                    ratio(ours.get(field), relay.get(field)),
                ]
            )
        rows.append([f"Lost deliveries, {label}", _loss(ours), _loss(relay), ""])
    connects = db["connects"]
    if connects:
        ours, relay = connects.get("ours", {}), connects.get("relay", {})
        count = fmt((ours or relay).get("sockets"))
        for field, name, digits in (
            ("connects_per_second", f"Connects/s, {count} sockets", 0),
            ("handshake_p50_ms", "Handshake p50 (ms)", 0),
            ("handshake_p99_ms", "Handshake p99 (ms)", 0),
            ("timeouts", "Handshakes timed out", 0),
            ("kib_per_socket", f"Server memory per socket, {count} sockets (KiB)", 1),
        ):
            rows.append(
                [
                    name,
                    fmt(ours.get(field), digits),
                    fmt(relay.get(field), digits),
                    ratio(ours.get(field), relay.get(field)),
                ]
            )
    if db["sustained"]:
        ours, relay = db["sustained"].get("ours", {}), db["sustained"].get("relay", {})
        for field, name in (
            ("sustained_events_per_second", "events/s"),
            ("sustained_deliveries_per_second", "deliveries/s"),
        ):
            rows.append(
                [
                    f"Sustained, one analysis, {fmt((ours or relay).get('subscribers'))} subscribers, "
                    f"in process ({name})",
                    sustained_figure(db, "ours", field),
                    sustained_figure(db, "relay", field),
                    ratio(ours.get(field), relay.get(field)),
                ]
            )
    if db["idle"]:
        ours, relay = db["idle"].get("ours", {}), db["idle"].get("relay", {})
        ours_last, relay_last = last_ok_stage(ours), last_ok_stage(relay)
        for name, mine, theirs, show in (
            ("Idle sockets held by one server process", ours.get("held"), relay.get("held"), fmt),
            (
                "Server memory per idle socket at the largest stage held (KiB)",
                ours_last.get("kib_per_socket"),
                relay_last.get("kib_per_socket"),
                fmt,
            ),
            (
                "Server CPU while idle at that stage (share of a core)",
                ours_last.get("idle_server_cpu"),
                relay_last.get("idle_server_cpu"),
                pct,
            ),
        ):
            rows.append([name, show(mine), show(theirs), ratio(mine, theirs)])
    return table(["", "ours", "relay", "ours / relay"], rows)


def _loss(figures: dict) -> str:
    return f"{figures['lost']:,} of {figures['expected_deliveries']:,}" if figures else "-"


def writes_details(db: dict) -> list[str]:
    if not db["writes"]:
        return []
    lines = [
        "### Writes through the HTTP API",
        "",
        "A closed loop: each connection posts again as soon as its answer arrived, for the whole window; no",
        "socket is open. Ours: `POST /api/analyses/<id>/transition/` with a worker's JWT, one analysis per",
        "connection; the relay: `POST /publish/<id>`. Committed counts 2xx answers only.",
        "",
    ]
    header = ["", "connections", "2xx/s", "2xx", "failures", "call p50 ms", "call p99 ms", "server CPU / waited"]
    header.append("producer CPU")
    rows = []
    for target in ("ours", "relay"):
        for loop in get(db, "writes", target, "loops") or []:
            rows.append(
                [
                    target,
                    str(loop["connections"]),
                    fmt(loop["per_second"], 0),
                    f"{loop['committed']:,}",
                    str(loop["failures"] or 0),
                    fmt(loop["call_p50_ms"], 1),
                    fmt(loop["call_p99_ms"], 1),
                    f"{pct(loop['server_cpu'])} / {pct(loop['server_cpu_wait'])}",
                    pct(loop["producer_cpu"]),
                ]
            )
    return lines + table(header, rows)


def _window_row(name: str, w: dict) -> list[str]:
    return [
        name,
        f"{fmt(w['asked_rate'], 0)} / {fmt(w['achieved_rate'])}",
        f"{w['received']:,} / {w['expected_deliveries']:,}",
        fmt(w["deliveries_per_second"], 0),
        f"{w['lost']:,}",
        f"{w['repeats']:,} / {w['gaps']:,}",
        fmt(w["p50_ms"], 2),
        fmt(w["p95_ms"], 2),
        fmt(w["p99_ms"], 2),
        fmt(w["max_ms"], 1),
        f"{pct(w['server_cpu'])} / {pct(w.get('server_cpu_wait'))}",
        f"{pct(w['client_cpu_max'])} / {pct(w.get('client_cpu_wait_max'))}",
        f"{pct(w['producer_cpu'])} / {pct(w.get('producer_cpu_wait'))}",
    ]


def latency_details(db: dict) -> list[str]:
    if not db["latency"]:
        return []
    lines = [
        "### Latency and loss through the HTTP API",
        "",
        "Latency runs from the server's clock at the write to the client's at arrival: for ours the",
        "`updated_at` of the transition's answer (taken in the transaction, right before the commit), for the",
        "relay the `sent_at` of its publish view (right before `group_send`). CPU is the share of one core each",
        'process used over the load window, and "waited" the share of it the process was runnable but had no',
        "CPU (from /proc/<pid>/task/*/schedstat).",
        "",
    ]
    for figures in db["latency"].values():
        any_figures = figures.get("ours") or figures.get("relay")
        lines += [f"#### {case_label(any_figures)}, {fmt(any_figures['seconds'], 0)} s", ""]
        lines += table(WINDOW_HEADER, [_window_row(t, figures[t]) for t in ("ours", "relay") if t in figures])
        for target in ("ours", "relay"):
            w = figures.get(target)
            if not w:
                continue
            note = (
                f"{target}: {w['open']['opened']:,} of {w['open']['asked']:,} sockets opened "
                f"in {w['open']['seconds']} s; "
                f"server RSS {w['rss_before_kib'] / 1024:.1f} MiB before, {w['rss_after_open_kib'] / 1024:.1f} MiB "
                f"with the sockets, {w['rss_after_load_kib'] / 1024:.1f} MiB after the load; a publishing call took "
                f"{fmt(w['mean_transaction_ms'], 2)} ms on average"
            )
            if w.get("producer_failures"):
                note += f"; failed calls {w['producer_failures']}"
            lines.append(f"- {note}.")
        lines.append("")
    return lines


def connects_details(db: dict) -> list[str]:
    if not db["connects"]:
        return []
    lines = [
        "### Connects",
        "",
        "Sockets opened as frontends open them, a bounded number of handshakes in flight over all clients. Ours:",
        "authenticated with the `secureai.jwt.v1` subprotocol and subscribed to the analysis of the URL (ready",
        "at `subscribe_success`); the relay: ready when the WebSocket handshake completes. A handshake's time",
        "runs from its TCP connect to ready. Memory: VmRSS after the sockets opened less VmRSS before, per socket.",
        "",
    ]
    header = ["", "opened / asked", "in flight", "seconds", "connects/s", "handshake p50 / p99 ms", "failures"]
    header += ["server CPU", "KiB/socket"]
    rows = []
    for target in ("ours", "relay"):
        c = db["connects"].get(target)
        if c:
            rows.append(
                [
                    target,
                    f"{c['opened']:,} / {c['sockets']:,}",
                    str(c["in_flight"]),
                    fmt(c["seconds"], 2),
                    fmt(c["connects_per_second"], 0),
                    f"{fmt(c['handshake_p50_ms'], 0)} / {fmt(c['handshake_p99_ms'], 0)}",
                    str(c["failures"] or 0),
                    pct(c["server_cpu"]),
                    fmt(c["kib_per_socket"]),
                ]
            )
    return lines + table(header, rows)


def sustained_details(db: dict) -> list[str]:
    if not db["sustained"]:
        return []
    lines = [
        "### Highest sustained rate: one analysis, many subscribers (in process)",
        "",
        "A ceiling of fan-out, not of the HTTP API: the producer commits in its own process (ours through",
        "`analyses.services.analysis_transition`, the relay with `group_send`). The rate steps up until a step",
        "loses a delivery, duplicates or reorders one, or has p99 at or over 250 ms. A failed step is repeated",
        "once and fails only if the repeat fails too. The sustained figure is the rate reached by the last step",
        "that passed; when the producer cannot reach 90 % of the asked rate, stepping stops there and the",
        "figure is a lower bound.",
        "",
    ]
    for target in ("ours", "relay"):
        figures = db["sustained"].get(target)
        if not figures:
            continue
        lines += [
            f"#### {target}: {sustained_figure(db, target, 'sustained_events_per_second')} events/s, "
            f"{sustained_figure(db, target, 'sustained_deliveries_per_second')} deliveries/s",
            "",
        ]
        lines += table(WINDOW_HEADER, [_window_row(_step_label(step), step) for step in figures["steps"]])
        lines += [f"Stopped by: {figures['stopped_by']}.", ""]
    return lines


def _step_label(step: dict) -> str:
    verdict = "passed" if step["passed"] else "failed"
    if step.get("repeated"):
        verdict += ", repeated"
    if step.get("repeat"):
        verdict = f"repeat {verdict}"
    return f"{fmt(step['asked_rate'], 0)}/s {verdict}"


def idle_details(db: dict) -> list[str]:
    if not db["idle"]:
        return []
    lines = [
        "### Idle sockets on one server process",
        "",
        "Each stage opens sockets up to its total (ours: authenticated and subscribed), holds them idle, then",
        "checks that every socket is still open and receives one probe event for its analysis, sent through",
        "the HTTP API.",
        "",
    ]
    header = ["", "sockets", "opened (s)", "open after hold", "probe reached", "min heartbeats", "server RSS MiB"]
    header += ["KiB/socket", "idle server CPU", "open files"]
    rows = []
    for target in ("ours", "relay"):
        for stage in get(db, "idle", target, "stages") or []:
            failures = stage["open"]["failures"]
            opened = f"{stage['open']['opened']:,} ({stage['open']['seconds']})" + (f" {failures}" if failures else "")
            rows.append(
                [
                    target,
                    f"{stage['sockets']:,}",
                    opened,
                    f"{stage['held']:,}" + (f" {stage['close_codes']}" if stage["close_codes"] else ""),
                    f"{stage['probe_reached']:,}",
                    fmt(stage["min_heartbeats"]) if target == "ours" else "-",
                    f"{stage['rss_kib'] / 1024:.1f}",
                    fmt(stage["kib_per_socket"]),
                    pct(stage["idle_server_cpu"]),
                    fmt(stage["server_open_files"]),
                ]
            )
    hold = (db["idle"].get("ours") or db["idle"].get("relay"))["hold_seconds"]
    return lines + table(header, rows) + [f"Each stage was held {fmt(hold, 0)} s before its check.", ""]


def server_errors(db: dict) -> list[str]:
    errors = db.get("server_errors") or {}
    lines = ["### Errors the servers logged", ""]
    if not errors:
        return [*lines, "None: neither server logged an error.", ""]
    for target, messages in errors.items():
        lines += [f"- {target}: {count:,}x `{message}`" for message, count in messages.items()]
    return [*lines, "", f"Their full output is kept in {db['server_logs']}/.", ""]
