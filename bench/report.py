"""Turns the raw figures of a run into docs/performance.md: results, ratios, targets, method, machine.

``python -m bench.report docs/performance.json docs/performance.md`` renders a report again from
the raw figures of a run, without running anything.
"""

import json
import sys
from pathlib import Path
from typing import Any

LATENCY_MAIN = "100x10@50"
LATENCY_MEMORY = "1000x100@20"


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


def _get(results: dict, *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


# --- the verdicts ---------------------------------------------------------------------------------
def verdicts(results: dict) -> list[tuple[str, bool | None, str]]:
    """(target, met, why) for each performance target; met is None when the run did not measure it."""
    found: list[tuple[str, bool | None, str]] = []

    ours_windows = [(name, w) for name, target, w in windows(results) if target == "ours"]
    lossy = [(name, w) for name, w in ours_windows if w["lost"] or w["repeats"] or w["gaps"]]
    probes = [
        (stage["sockets"], stage["probe_reached"], stage["held"])
        for stage in _get(results, "idle", "ours", "stages") or []
    ]
    missed_probe = [p for p in probes if p[1] < p[2]]
    if not ours_windows:
        found.append(("Zero loss at every rate (ours)", None, "not measured in this run"))
    elif lossy or missed_probe:
        why = "; ".join(
            f"{name}: {w['lost']} lost, {w['repeats']} duplicate/out of order, {w['gaps']} gaps" for name, w in lossy
        )
        why += "".join(f"; idle probe at {s:,} sockets reached {r:,} of {h:,}" for s, r, h in missed_probe)
        found.append(("Zero loss at every rate (ours)", False, why.lstrip("; ")))
    else:
        total = sum(w["expected_deliveries"] for _, w in ours_windows)
        found.append(
            (
                "Zero loss at every rate (ours)",
                True,
                f"{len(ours_windows)} windows, {total:,} deliveries, none lost, duplicated or out of order"
                + (f"; every idle socket got its probe event ({len(probes)} stages)" if probes else ""),
            )
        )

    ours_rate = _get(results, "sustained", "ours", "sustained_deliveries_per_second")
    relay_rate = _get(results, "sustained", "relay", "sustained_deliveries_per_second")
    if not results["sustained"].get("ours") or not results["sustained"].get("relay"):
        found.append(("One analysis, 100 subscribers: >= 10x the relay's deliveries/s", None, "not measured"))
    else:
        met = ours_rate is not None and (relay_rate is None or ours_rate >= 10 * relay_rate)
        if ours_rate is None and relay_rate is None:
            met = None
        why = (
            f"ours {_sustained(results, 'ours', 'sustained_deliveries_per_second')} deliveries/s "
            f"({ratio(ours_rate, relay_rate)} the relay's "
            f"{_sustained(results, 'relay', 'sustained_deliveries_per_second')}); "
            f"ours stopped by: {_get(results, 'sustained', 'ours', 'stopped_by')}"
            f"{_cpu_note(_last_step(results, 'ours'))}{_bound_note(results, 'ours')}; "
            f"the relay stopped by: {_get(results, 'sustained', 'relay', 'stopped_by')}"
            f"{_cpu_note(_last_step(results, 'relay'))}{_bound_note(results, 'relay')}"
        )
        found.append(("One analysis, 100 subscribers: >= 10x the relay's deliveries/s", met, why))

    ours = _get(results, "latency", LATENCY_MAIN, "ours")
    relay = _get(results, "latency", LATENCY_MAIN, "relay")
    if ours is None or relay is None or ours["p50_ms"] is None or relay["p50_ms"] is None:
        found.append(("100 sockets, 50 events/s: p50 within 5 ms, p99 within 25 ms of the relay", None, "not measured"))
    else:
        d50 = ours["p50_ms"] - relay["p50_ms"]
        d99 = ours["p99_ms"] - relay["p99_ms"]
        why = (
            f"p50 {fmt(ours['p50_ms'], 2)} vs {fmt(relay['p50_ms'], 2)} ms ({d50:+.2f} ms), "
            f"p99 {fmt(ours['p99_ms'], 2)} vs {fmt(relay['p99_ms'], 2)} ms ({d99:+.2f} ms)"
        )
        found.append(
            ("100 sockets, 50 events/s: p50 within 5 ms, p99 within 25 ms of the relay", d50 <= 5 and d99 <= 25, why)
        )

    ours_kib = _get(results, "latency", LATENCY_MEMORY, "ours", "kib_per_socket")
    relay_kib = _get(results, "latency", LATENCY_MEMORY, "relay", "kib_per_socket")
    if ours_kib is None or relay_kib is None:
        found.append(("Memory per socket no more than the relay's", None, "not measured"))
    else:
        found.append(
            (
                "Memory per socket no more than the relay's",
                ours_kib <= relay_kib,
                f"ours {fmt(ours_kib)} KiB, the relay {fmt(relay_kib)} KiB ({ratio(ours_kib, relay_kib)})",
            )
        )

    stages = _get(results, "idle", "ours", "stages") or []
    if not stages:
        found.append(("10,000 idle authenticated sockets on one server process", None, "not measured"))
    else:
        held = _get(results, "idle", "ours", "held")
        last = stages[-1]
        why = f"held {held:,} (largest stage tried: {last['sockets']:,})"
        if not last["ok"]:
            why += (
                f"; at {last['sockets']:,}: opened {last['open']['opened']:,}, "
                f"failures {last['open']['failures'] or 'none'}, "
                f"still open after the hold {last['held']:,}, probe reached {last['probe_reached']:,}"
            )
        found.append(("10,000 idle authenticated sockets on one server process", held >= 10_000, why))
    return found


def _sustained(results: dict, target: str, field: str) -> str:
    figures = results["sustained"].get(target)
    if not figures:
        return "-"
    if figures[field] is None:
        lowest = figures["lowest_rate"] * (figures["subscribers"] if field.endswith("deliveries_per_second") else 1)
        return f"below {fmt(lowest, 0)} (no step passed)"
    return fmt(figures[field], 0)


def _last_step(results: dict, target: str) -> dict | None:
    steps = _get(results, "sustained", target, "steps") or []
    return steps[-1] if steps else None


def _bound_note(results: dict, target: str) -> str:
    if _get(results, "sustained", target, "producer_bound"):
        return " (so the figure is a lower bound: the server kept up with all the producer sent)"
    return ""


def _cpu_note(step: dict | None) -> str:
    if step is None:
        return ""
    return (
        f" at {fmt(step['asked_rate'], 0)} events/s (server CPU {pct(step['server_cpu'])} of a core, "
        f"busiest client {pct(step['client_cpu_max'])}, producer {pct(step['producer_cpu'])})"
    )


# --- the document -----------------------------------------------------------------------------------
def render(results: dict) -> str:
    machine = results["machine"]
    plan = results["plan"]
    lines = [
        "# Performance: our status service against a bare Channels relay",
        "",
        f"Generated by `scripts/bench` ({plan['name']} run, {results.get('minutes', '?')} min, started "
        f"{results['started_at']}).",
        "Every figure below comes from this one run: each scenario ran against the relay and then against our",
        "service on fresh server processes, minutes apart on the same machine, so the ratios compare like with",
        "like. Other work on the machine shows as noise; the load average before and after each window is in",
        "docs/performance.json.",
        "",
        "Run it again with `scripts/bench` (about 8-10 minutes; writes this file and docs/performance.json), or",
        "`scripts/bench --quick` for a short smoke check (writes var/bench/quick.md).",
        "",
    ]
    lines += _noise(results)
    lines += [
        "## Summary",
        "",
    ]
    lines += _summary(results)
    lines += ["## Targets", ""]
    for name, met, why in verdicts(results):
        mark = "not measured" if met is None else ("**met**" if met else "**not met**")
        lines.append(f"- {name}: {mark}. {why}.")
    lines.append("")
    lines += _held_back(results)
    lines += _latency_details(results)
    lines += _sustained_details(results)
    lines += _idle_details(results)
    lines += _server_errors(results)
    lines += _method(results)
    lines += [
        "## Machine and software",
        "",
        f"- CPU: {machine['cpu_model']}; `nproc`: {machine['nproc']}; kernel {machine['kernel']}",
        f"- Load average at start {machine['load_average_at_start']}, at end {machine.get('load_average_at_end')}",
        f"- Python {machine['python']}; Redis {machine['redis']}; database: {results.get('database')}",
        f"- Open files limit: {machine['open_files_limit']:,}",
        "- Packages: " + ", ".join(f"{name} {v}" for name, v in machine["packages"].items()),
        "",
        "`free -h`:",
        "",
        "```",
        machine["free_h"],
        "```",
        "",
    ]
    return "\n".join(lines)


def windows(results: dict) -> list[tuple[str, str, dict]]:
    """Every load window of the run: (scenario, target, figures)."""
    found = []
    for key, figures in results["latency"].items():
        found += [(f"latency {key}", target, figures[target]) for target in ("ours", "relay") if target in figures]
    for target, figures in results["sustained"].items():
        found += [(f"one analysis at {fmt(step['asked_rate'], 0)}/s", target, step) for step in figures["steps"]]
    return found


def _noise(results: dict) -> list[str]:
    starved = [(name, target, w) for name, target, w in windows(results) if (w.get("server_cpu_wait") or 0) > 0.1]
    if not starved:
        return [
            "In every load window the server waited less than 10 % of the time for a CPU: other work on the",
            "machine did not hold it back much.",
            "",
        ]
    worst = max(starved, key=lambda item: item[2]["server_cpu_wait"])
    return [
        f"**Noise:** in {len(starved)} of {len(windows(results))} load windows the server process was runnable but",
        "waited more than 10 % of the window for a CPU, because other work shared the machine's "
        f"{results['machine']['nproc']} cores",
        f"(the worst: {worst[0]}, {worst[1]}, {pct(worst[2]['server_cpu_wait'])}). Those windows measure the "
        "machine as much as the code;",
        'the column "waited" in the tables below shows which.',
        "",
    ]


def _summary(results: dict) -> list[str]:
    rows = []
    for figures in results["latency"].values():
        ours, relay = figures.get("ours", {}), figures.get("relay", {})
        for field, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
            rows.append(
                [
                    f"Latency {label}, {_case_label(ours or relay)} (ms)",
                    fmt(ours.get(field), 2),
                    fmt(relay.get(field), 2),
                    ratio(ours.get(field), relay.get(field)),
                ]
            )
        rows.append(
            [
                f"Lost deliveries, {_case_label(ours or relay)}",
                _loss(ours),
                _loss(relay),
                "",
            ]
        )
        if "kib_per_socket" in ours or "kib_per_socket" in relay:
            rows.append(
                [
                    f"Server memory per socket, {fmt((ours or relay).get('sockets'))} sockets (KiB)",
                    fmt(ours.get("kib_per_socket")),
                    fmt(relay.get("kib_per_socket")),
                    ratio(ours.get("kib_per_socket"), relay.get("kib_per_socket")),
                ]
            )
    sustained = results["sustained"]
    if sustained:
        ours, relay = sustained.get("ours", {}), sustained.get("relay", {})
        for field, label in (
            ("sustained_events_per_second", "events/s"),
            ("sustained_deliveries_per_second", "deliveries/s"),
        ):
            rows.append(
                [
                    f"Sustained, one analysis, {fmt((ours or relay).get('subscribers'))} subscribers ({label})",
                    _sustained(results, "ours", field),
                    _sustained(results, "relay", field),
                    ratio(ours.get(field), relay.get(field)),
                ]
            )
    idle = results["idle"]
    if idle:
        ours, relay = idle.get("ours", {}), idle.get("relay", {})
        rows.append(
            [
                "Idle sockets held by one server process",
                fmt(ours.get("held")),
                fmt(relay.get("held")),
                ratio(ours.get("held"), relay.get("held")),
            ]
        )
        ours_last = _last_ok(ours)
        relay_last = _last_ok(relay)
        rows.append(
            [
                "Server memory per idle socket at the largest stage held (KiB)",
                fmt(ours_last.get("kib_per_socket")),
                fmt(relay_last.get("kib_per_socket")),
                ratio(ours_last.get("kib_per_socket"), relay_last.get("kib_per_socket")),
            ]
        )
        rows.append(
            [
                "Server CPU while idle at that stage (share of a core)",
                pct(ours_last.get("idle_server_cpu")),
                pct(relay_last.get("idle_server_cpu")),
                ratio(ours_last.get("idle_server_cpu"), relay_last.get("idle_server_cpu")),
            ]
        )
    return table(["", "ours", "relay", "ours / relay"], rows)


def _last_ok(figures: dict) -> dict:
    stages = [stage for stage in figures.get("stages", []) if stage["ok"]]
    return stages[-1] if stages else {}


def _case_label(figures: dict) -> str:
    if not figures:
        return ""
    return (
        f"{figures['sockets']:,} sockets / {figures['analyses']:,} analyses / {fmt(figures['asked_rate'], 0)} events/s"
    )


def _loss(figures: dict) -> str:
    if not figures:
        return "-"
    return f"{figures['lost']:,} of {figures['expected_deliveries']:,}"


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


def _latency_details(results: dict) -> list[str]:
    if not results["latency"]:
        return []
    lines = [
        "## Latency and loss",
        "",
        "Latency runs from the producer's clock to the client's: for ours from right after the commit",
        "returns (the event is broadcast after commit by our post-save signal), for the relay from right",
        "before `group_send`. CPU is the share of one core each process used over the load window, and",
        '"waited" the share of it the process was runnable but had no CPU (from /proc/<pid>/task/*/schedstat).',
        "",
    ]
    for figures in results["latency"].values():
        any_figures = figures.get("ours") or figures.get("relay")
        lines += [f"### {_case_label(any_figures)}, {fmt(any_figures['seconds'], 0)} s", ""]
        rows = [_window_row(target, figures[target]) for target in ("ours", "relay") if target in figures]
        lines += table(WINDOW_HEADER, rows)
        extra = []
        for target in ("ours", "relay"):
            w = figures.get(target)
            if not w:
                continue
            note = (
                f"{target}: {w['open']['opened']:,} of {w['open']['asked']:,} sockets opened "
                f"in {w['open']['seconds']} s; "
                f"server RSS {w['rss_before_kib'] / 1024:.1f} MiB before, {w['rss_after_open_kib'] / 1024:.1f} MiB "
                f"with the sockets, {w['rss_after_load_kib'] / 1024:.1f} MiB after the load"
            )
            if w.get("mean_transaction_ms") is not None:
                note += f"; the producer's transaction took {fmt(w['mean_transaction_ms'], 2)} ms on average"
            extra.append(f"- {note}.")
        lines += [*extra, ""]
    return lines


def _sustained_details(results: dict) -> list[str]:
    if not results["sustained"]:
        return []
    lines = [
        "## Highest sustained rate: one analysis, many subscribers",
        "",
        "The rate steps up until a step loses a delivery, duplicates or reorders one, or has p99 at or over",
        "250 ms. A failed step is repeated once and fails only if the repeat fails too (one window can",
        "coincide with other work on a shared machine). The sustained figure is the rate reached by the last",
        "step that passed. When the producer cannot reach 90 % of the asked rate, stepping stops there and",
        "the figure is a lower bound.",
        "",
    ]
    for target in ("ours", "relay"):
        figures = results["sustained"].get(target)
        if not figures:
            continue
        lines += [
            f"### {target}: {_sustained(results, target, 'sustained_events_per_second')} events/s, "
            f"{_sustained(results, target, 'sustained_deliveries_per_second')} deliveries/s",
            "",
        ]
        rows = [_window_row(_step_label(step), step) for step in figures["steps"]]
        lines += table(WINDOW_HEADER, rows)
        lines += [f"Stopped by: {figures['stopped_by']}.", ""]
    return lines


def _step_label(step: dict) -> str:
    verdict = "passed" if step["passed"] else "failed"
    if step.get("repeated"):
        verdict += ", repeated"
    if step.get("repeat"):
        verdict = f"repeat {verdict}"
    return f"{fmt(step['asked_rate'], 0)}/s {verdict}"


def _idle_details(results: dict) -> list[str]:
    if not results["idle"]:
        return []
    lines = [
        "## Idle sockets on one server process",
        "",
        "Each stage opens sockets up to its total (ours: authenticated with the `secureai.jwt.v1` subprotocol",
        "and subscribed to one analysis each by URL), holds them idle, then checks that every socket is still",
        "open and receives one probe event for its analysis.",
        "",
    ]
    header = [
        "",
        "sockets",
        "opened (s)",
        "open after hold",
        "probe reached",
        "min heartbeats",
        "server RSS MiB",
        "KiB/socket",
        "idle server CPU",
        "open files",
    ]
    rows = []
    for target in ("ours", "relay"):
        figures = results["idle"].get(target)
        if not figures:
            continue
        for stage in figures["stages"]:
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
    hold = (results["idle"].get("ours") or results["idle"].get("relay"))["hold_seconds"]
    return lines + table(header, rows) + [f"Each stage was held {fmt(hold, 0)} s before its check.", ""]


def _per_delivery_us(step: dict | None) -> float | None:
    """Server CPU per delivery in a window, in microseconds."""
    if not step or not step.get("deliveries_per_second"):
        return None
    return 1e6 * step["server_cpu"] / step["deliveries_per_second"]


def _best_step(results: dict, target: str) -> dict | None:
    passed = [step for step in _get(results, "sustained", target, "steps") or [] if step["passed"]]
    return passed[-1] if passed else None


def _held_back(results: dict) -> list[str]:
    """What limited each figure, from this run's own measurements."""
    lines = []
    ours, relay = _best_step(results, "ours"), _best_step(results, "relay")
    ours_us, relay_us = _per_delivery_us(ours), _per_delivery_us(relay)
    last = _last_step(results, "ours")
    if ours_us and relay_us and last:
        others = (last["client_cpu_max"] or 0) * results["plan"]["clients"] + (last["producer_cpu"] or 0)
        lines.append(
            f"- **Sustained rate.** At its last passing step the server spent {ours_us:.0f} µs of CPU per delivery "
            f"for ours and {relay_us:.0f} µs for the relay ({relay_us / ours_us:.1f}x as much). Ten times the "
            f"relay's deliveries on the same CPU would need at most {relay_us / 10:.0f} µs per delivery. "
            f"At the failing step ({fmt(last['asked_rate'], 0)} events/s) our server used "
            f"{pct(last['server_cpu'])} of a core and "
            f"waited {pct(last['server_cpu_wait'])} of the time for one, while the clients and the producer used "
            f"about {pct(others)} of a core on the same {results['machine']['nproc']}-core machine: the server "
            "ran out of CPU."
        )
    mem_ours = _get(results, "latency", LATENCY_MEMORY, "ours", "kib_per_socket")
    mem_relay = _get(results, "latency", LATENCY_MEMORY, "relay", "kib_per_socket")
    if mem_ours is not None and mem_relay is not None:
        lines.append(
            f"- **Memory.** Ours holds {mem_ours - mem_relay:+.1f} KiB per socket against the relay "
            f"({fmt(mem_ours)} vs {fmt(mem_relay)} KiB, {ratio(mem_ours, mem_relay)})."
        )
    stages = {t: (_get(results, "idle", t, "stages") or []) for t in ("ours", "relay")}
    if stages["ours"] and stages["relay"]:

        def connect_rate(target: str) -> float:
            opened = sum(stage["open"]["opened"] for stage in stages[target])
            return opened / max(1e-9, sum(stage["open"]["seconds"] for stage in stages[target]))

        top = {t: stages[t][-1] for t in stages}
        lines.append(
            f"- **Connections.** The idle sockets opened at {connect_rate('ours'):.0f} a second for ours "
            f"(authenticated and subscribed: the token, the user and the analysis are checked against the database) "
            f"and {connect_rate('relay'):.0f} a second for the relay. Held idle at {top['ours']['sockets']:,} sockets, "
            f"our server used {pct(top['ours']['idle_server_cpu'])} of a core (heartbeats and timers included) "
            f"and the relay {pct(top['relay']['idle_server_cpu'])}."
        )
    if not lines:
        return []
    return ["## What held us back", "", *lines, ""]


def _server_errors(results: dict) -> list[str]:
    errors = results.get("server_errors") or {}
    lines = ["## Errors the servers logged", ""]
    if not errors:
        return [*lines, "None: neither server logged an error during the run.", ""]
    for target, messages in errors.items():
        for message, count in messages.items():
            lines.append(f"- {target}: {count:,}x `{message}`")
    return [*lines, "", f"Their full output is kept in {results['server_logs']}/.", ""]


def _method(results: dict) -> list[str]:
    plan = results["plan"]
    return [
        "## Method",
        "",
        "- **Servers.** Each scenario starts a fresh `python -m daphne` per target on 127.0.0.1. Ours runs",
        "  `secureai.asgi:application` with `bench.settings` (the base settings: the bench database, a generated",
        "  `SECRET_KEY`, `DATABASE_CONN_MAX_AGE=600`, `LOG_LEVEL=WARNING`, every `WS_*` limit at its default).",
        "  The relay runs `bench.relay.asgi:application` with `bench.relay.settings`: an",
        "  `AsyncJsonWebsocketConsumer` that joins `analysis.<id>` from its URL with `group_add` on connect and",
        "  passes group messages on with `send_json`; no auth, history or gap filling. Both use channels-redis",
        "  on the same Redis with the same host options, capacity and expiry, each under its own prefix.",
        "- **Producers.** Ours: a process running Django with the same settings commits",
        "  `processing -> processing` updates through `analyses.services.analysis_transition`, with",
        '  `message="t=<time.time()>"`; the event reaches the sockets through our post-save signal after commit.',
        "  Its time is taken right after the commit returns. The relay: a process calling",
        "  `channel_layer.group_send` with an event body of the same shape and size, timed right before the send.",
        "  Events go round-robin over the scenario's analyses at `start + i / rate`.",
        f"- **Clients.** {plan['clients']} client processes (asyncio and `websockets`, {plan['idle_clients']} for the",
        "  idle stages); each analysis's sockets are spread over them. A client stamps each event with",
        "  `time.time()` on arrival and checks per socket that seqs arrive in order without duplicates. Loss is",
        "  the events produced for a socket's analysis during the window that the socket never received, after",
        "  waiting for stragglers (for ours up to one heartbeat interval plus 5 s, since a dropped latest event",
        "  is filled by the heartbeat). A busiest-client CPU near 100 % would mean the clients limited a figure.",
        "- **Memory.** VmRSS of the server from /proc/<pid>/status after a warm-up of 10 sockets and before the",
        "  scenario's sockets open, and again 2 s after they opened; the difference divided by the sockets.",
        "- **Percentiles** are nearest-rank over every delivery of the window. A p99 far above the p95 of the",
        "  same window usually means one pause of the server landed in it: a full garbage collection of a",
        "  daphne process holding 1,000 sockets (about 250,000 tracked objects) takes 60-200 ms on this kind of",
        "  machine, and whether one falls inside a 12 s window is partly chance.",
        "",
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.report RESULTS.json REPORT.md", file=sys.stderr)
        return 2
    results = json.loads(Path(argv[0]).read_text())
    Path(argv[1]).write_text(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
