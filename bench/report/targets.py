"""The performance targets, judged per database against the relay measured in the same run."""

from .text import fmt, get, pct, ratio, windows

LATENCY_MAIN = "100x10@50"
WRITES_RATIO = 1.0  # committed transitions/s through the HTTP API, against the relay's publish rate
CONNECTS_RATIO = 0.5  # connects/s of authenticated, subscribed sockets, against the relay's
MEMORY_LIMIT_KIB = 31.0  # per socket, and no more than the relay's
P50_MARGIN_MS, P99_MARGIN_MS = 5.0, 25.0
REACHED_SHARE = 0.9  # of the asked rate: below it the server did not keep up and the latencies say little

Verdict = tuple[str, bool | None, str]  # (target, met or None when not measured, why)


def verdicts(db: dict) -> list[Verdict]:
    return [_writes(db), _latency(db), _connects(db), _memory(db), _zero_loss(db)]


def _writes(db: dict) -> Verdict:
    name = f"Committed transitions/s through the HTTP API >= {WRITES_RATIO:.1f}x the relay's publish rate"
    ours, relay = get(db, "writes", "ours"), get(db, "writes", "relay")
    if not ours or not relay:
        return name, None, "not measured"
    met = ours["best_per_second"] >= WRITES_RATIO * relay["best_per_second"]
    why = (
        f"ours {_loop_note(ours)}; the relay {_loop_note(relay)} "
        f"({ratio(ours['best_per_second'], relay['best_per_second'])})"
    )
    return name, met, why


def _loop_note(figures: dict) -> str:
    loop = next(loop for loop in figures["loops"] if loop["connections"] == figures["best_connections"])
    failures = f", failures {loop['failures']}" if loop["failures"] else ""
    return (
        f"{fmt(loop['per_second'], 0)}/s with {loop['connections']} connections (call p50 "
        f"{fmt(loop['call_p50_ms'], 1)} ms, p99 {fmt(loop['call_p99_ms'], 1)} ms; server CPU "
        f"{pct(loop['server_cpu'])} of a core, waited {pct(loop['server_cpu_wait'])}; producer "
        f"{pct(loop['producer_cpu'])}{failures})"
    )


def _latency(db: dict) -> Verdict:
    name = (
        f"Latency {LATENCY_MAIN} through the HTTP API: p50 within {P50_MARGIN_MS:g} ms, "
        f"p99 within {P99_MARGIN_MS:g} ms of the relay, nothing lost, the asked rate reached"
    )
    ours, relay = get(db, "latency", LATENCY_MAIN, "ours"), get(db, "latency", LATENCY_MAIN, "relay")
    if not ours or not relay or ours["p50_ms"] is None or relay["p50_ms"] is None:
        return name, None, "not measured"
    d50, d99 = ours["p50_ms"] - relay["p50_ms"], ours["p99_ms"] - relay["p99_ms"]
    why = (
        f"p50 {fmt(ours['p50_ms'], 2)} vs {fmt(relay['p50_ms'], 2)} ms ({d50:+.2f} ms), "
        f"p99 {fmt(ours['p99_ms'], 2)} vs {fmt(relay['p99_ms'], 2)} ms ({d99:+.2f} ms); "
        f"lost {ours['lost']:,} of {ours['expected_deliveries']:,}; ours: the server used {pct(ours['server_cpu'])} "
        f"of a core and waited {pct(ours['server_cpu_wait'])}, a call took {fmt(ours['mean_transaction_ms'], 1)} ms "
        f"on average; {fmt(ours['achieved_rate'])} of {fmt(ours['asked_rate'], 0)} events/s reached "
        f"(the relay {fmt(relay['achieved_rate'])})"
    )
    reached = ours["achieved_rate"] is not None and ours["achieved_rate"] >= REACHED_SHARE * ours["asked_rate"]
    return name, d50 <= P50_MARGIN_MS and d99 <= P99_MARGIN_MS and not ours["lost"] and reached, why


def _connects(db: dict) -> Verdict:
    ours, relay = get(db, "connects", "ours"), get(db, "connects", "relay")
    sockets = fmt((ours or relay or {}).get("sockets"))
    name = (
        f"Connects/s of {sockets} authenticated, subscribed sockets >= {CONNECTS_RATIO:.1f}x the relay's, "
        "no handshake timed out"
    )
    if not ours or not relay:
        return name, None, "not measured"
    met = (
        ours["connects_per_second"] is not None
        and relay["connects_per_second"] is not None
        and ours["connects_per_second"] >= CONNECTS_RATIO * relay["connects_per_second"]
        and ours["timeouts"] == 0
        and ours["opened"] == ours["sockets"]
    )
    share = ratio(ours["connects_per_second"], relay["connects_per_second"])
    why = f"ours {_connect_note(ours)}; the relay {_connect_note(relay)} ({share})"
    return name, met, why


def _connect_note(figures: dict) -> str:
    failures = f", failures {figures['failures']}" if figures["failures"] else ""
    return (
        f"{fmt(figures['connects_per_second'], 0)}/s ({figures['opened']:,} of {figures['sockets']:,} in "
        f"{fmt(figures['seconds'], 1)} s, {figures['in_flight']} in flight; handshake p50 "
        f"{fmt(figures['handshake_p50_ms'], 0)} ms, p99 {fmt(figures['handshake_p99_ms'], 0)} ms; "
        f"server CPU {pct(figures['server_cpu'])} of a core{failures})"
    )


def _memory(db: dict) -> Verdict:
    name = f"Memory per socket <= {MEMORY_LIMIT_KIB:g} KiB and no more than the relay's"
    ours, relay = get(db, "connects", "ours", "kib_per_socket"), get(db, "connects", "relay", "kib_per_socket")
    if ours is None or relay is None:
        return name, None, "not measured"
    why = f"ours {fmt(ours)} KiB, the relay {fmt(relay)} KiB ({ratio(ours, relay)}), after the connects"
    return name, ours <= MEMORY_LIMIT_KIB and ours <= relay, why


def _zero_loss(db: dict) -> Verdict:
    name = "Zero loss at every rate (ours)"
    ours_windows = [(scenario, w) for scenario, target, w in windows(db) if target == "ours"]
    lossy = [(scenario, w) for scenario, w in ours_windows if w["lost"] or w["repeats"] or w["gaps"]]
    probes = [(s["sockets"], s["probe_reached"], s["held"]) for s in get(db, "idle", "ours", "stages") or []]
    missed_probe = [probe for probe in probes if probe[1] < probe[2]]
    if not ours_windows:
        return name, None, "not measured in this run"
    if lossy or missed_probe:
        why = "; ".join(
            f"{scenario}: {w['lost']} lost, {w['repeats']} duplicate/out of order, {w['gaps']} gaps"
            for scenario, w in lossy
        )
        why += "".join(f"; idle probe at {s:,} sockets reached {r:,} of {h:,}" for s, r, h in missed_probe)
        return name, False, why.lstrip("; ")
    total = sum(w["expected_deliveries"] for _, w in ours_windows)
    return (
        name,
        True,
        f"{len(ours_windows)} windows, {total:,} deliveries, none lost, duplicated or out of order"
        + (f"; every idle socket got its probe event ({len(probes)} stages)" if probes else ""),
    )
