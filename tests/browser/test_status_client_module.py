"""status-client.js on its own, in the browser, against a scripted fake socket: the sequencing,
reconnect and pacing rules, each driven exactly (no server involved beyond serving the file)."""

import pytest
from playwright.sync_api import Page

from .conftest import BROWSER_TEST

pytestmark = BROWSER_TEST

ID = "3f2b6a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"

HARNESS = """async () => {
    const { StatusClient } = await import("/static/realtime/status-client.js");
    class FakeSocket {
        static all = [];
        constructor(url, protocols) {
            Object.assign(this, { url, protocols, sent: [], readyState: 1 });
            FakeSocket.all.push(this);
        }
        send(text) { this.sent.push(JSON.parse(text)); }
        close(code, reason) { this.readyState = 3; }
        // What the server would do:
        push(message) { this.onmessage({ data: JSON.stringify(message) }); }
        hello(authenticated = true) {
            this.push({ type: "connection_established", connection_id: "c", authenticated,
                        user: "alice", server_time: "", heartbeat_interval: 25 });
        }
        drop(code) { this.readyState = 3; this.onclose({ code, reason: "" }); }
    }
    const event = (seq, extra = {}) => ({ type: "progress_update", analysis_id: "ANALYSIS_ID", seq,
        event: "progress_update", status: "processing", progress: seq, ...extra });
    const make = (options = {}) => {
        const got = { events: [], states: [], delays: [], refreshed: 0 };
        const client = new StatusClient({ url: "ws://fake/ws/status/", WebSocket: FakeSocket,
            backoff: { initialMs: 20, maxMs: 160 }, ...options });
        client.on("event", (e, { replay }) => got.events.push(replay ? -e.seq : e.seq));
        client.on("state", ({ state, delayMs }) => { got.states.push(state); if (delayMs) got.delays.push(delayMs); });
        return { client, got };
    };
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const last = () => FakeSocket.all[FakeSocket.all.length - 1];
    window.t = { StatusClient, FakeSocket, event, make, sleep, last, id: "ANALYSIS_ID" };
}""".replace("ANALYSIS_ID", ID)


@pytest.fixture
def page(contexts, server) -> Page:
    page = contexts().new_page()
    page.goto(f"{server.http_url}/healthz")
    page.evaluate(HARNESS)
    return page


def test_each_event_once_in_order_with_gaps_filled_from_history(page):
    result = page.evaluate(
        """async () => {
        const { make, last, event, id } = window.t;
        const { client, got } = make();
        client.subscribe(id, { sinceSeq: 3 });
        client.connect();
        await t.sleep(0);
        const socket = last();
        socket.hello();
        const subscribe = socket.sent.shift();
        socket.push({ type: "subscribe_success", request_id: subscribe.request_id, analysis_id: id, seq: 4 });
        socket.push({ ...event(4), replay: true });
        socket.push(event(4));                 // a duplicate: dropped
        socket.push(event(7));                 // a gap: 5 and 6 are fetched first
        socket.push(event(7));                 // repeated while the gap is open: still once
        const history = socket.sent.shift();
        socket.push({ type: "history_response", request_id: history.request_id, analysis_id: id,
                      events: [event(6), event(5)].map(({ type, ...body }) => body), has_more: false });
        socket.push(event(8));
        socket.push({ type: "heartbeat", server_time: "", subscriptions: { [id]: 10 } });
        const heartbeatFetch = socket.sent.shift();
        return { subscribe, history, heartbeatFetch, events: got.events, stats: client.stats,
                 last: client.lastSeq(id), pending: socket.sent };
    }"""
    )
    assert result["subscribe"]["since_seq"] == 3
    assert result["subscribe"]["analysis_id"] == ID
    assert (result["history"]["type"], result["history"]["since_seq"]) == ("history_request", 4)
    # -n marks a replayed event (from since_seq or from history), n a live one.
    assert result["events"] == [-4, -5, -6, 7, 8]
    assert result["last"] == 8
    assert result["stats"]["duplicatesDropped"] == 2
    assert (result["heartbeatFetch"]["type"], result["heartbeatFetch"]["since_seq"]) == ("history_request", 8)
    assert result["pending"] == []


def test_a_reconnect_backs_off_with_jitter_and_resubscribes_from_the_last_seq(page):
    result = page.evaluate(
        """async () => {
        const { make, last, event, id, FakeSocket } = window.t;
        const { client, got } = make();
        client.subscribe(id, { sinceSeq: 1 });
        client.subscribeFeed("analyses");
        client.connect();
        await t.sleep(0);
        last().hello();
        last().push(event(2));
        for (let attempt = 0; attempt < 4; attempt++) {
            const before = FakeSocket.all.length;
            last().drop(1006);                       // refused while the server is down
            while (FakeSocket.all.length === before) await t.sleep(5);
        }
        const socket = last();
        socket.hello();
        return { delays: got.delays, states: got.states, sent: socket.sent, sockets: FakeSocket.all.length };
    }"""
    )
    ceilings = [20, 40, 80, 160]
    assert len(result["delays"]) == 4
    for delay, ceiling in zip(result["delays"], ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert result["states"][:2] == ["connecting", "live"]
    assert result["states"][-1] == "live"
    assert set(result["states"][2:-1]) == {"reconnecting"}
    subscribe, feed = result["sent"]
    assert (subscribe["analysis_id"], subscribe["since_seq"]) == (ID, 2)
    assert feed == {"type": "subscribe_request", "feed": "analyses", "request_id": feed["request_id"]}


def test_close_codes_decide_whether_to_come_back(page):
    result = page.evaluate(
        """async () => {
        const { make, last, FakeSocket } = window.t;
        const outcome = {};

        const violating = make();
        violating.client.connect();
        await t.sleep(0);
        last().hello();
        let count = FakeSocket.all.length;
        last().drop(4400);
        await t.sleep(100);
        outcome.protocolViolation = [violating.client.state, FakeSocket.all.length - count];

        const signedOut = make();            // a page: no token, so no way to get a new one
        signedOut.client.connect();
        await t.sleep(0);
        last().hello();
        count = FakeSocket.all.length;
        last().drop(4401);
        await t.sleep(100);
        outcome.sessionEnded = [signedOut.client.state, FakeSocket.all.length - count];

        let tokens = 0;
        const app = make({ token: "old-token", refreshToken: async () => `fresh-token-${++tokens}` });
        app.client.connect();
        await t.sleep(0);
        outcome.firstProtocols = last().protocols;
        last().hello();
        count = FakeSocket.all.length;
        last().drop(4401);
        while (FakeSocket.all.length === count) await t.sleep(5);
        outcome.refreshedProtocols = last().protocols;
        outcome.appState = app.client.state;

        last().hello();
        last().push({ type: "token_expiring", expires_at: "2026-11-26T10:00:00Z" });
        await t.sleep(10);
        outcome.authenticate = last().sent.find((m) => m.type === "authenticate");
        return outcome;
    }"""
    )
    assert result["protocolViolation"] == ["offline", 0]
    assert result["sessionEnded"] == ["offline", 0]
    assert result["firstProtocols"] == ["secureai.jwt.v1", "old-token"]
    assert result["refreshedProtocols"] == ["secureai.jwt.v1", "fresh-token-1"]
    assert result["appState"] == "reconnecting"
    assert result["authenticate"]["jwt_token"] == "fresh-token-2"


def test_sending_is_paced_under_the_servers_rate_limit(page):
    result = page.evaluate(
        """async () => {
        const { make, last } = window.t;
        const { client } = make();
        for (let i = 0; i < 60; i++) client.subscribe(`00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
        client.connect();
        await t.sleep(0);
        last().hello();
        const atOnce = last().sent.length;
        await t.sleep(1000);
        return { atOnce, afterOneSecond: last().sent.length };
    }"""
    )
    # Bursts of 30, then 15 a second: the server allows 20 a second with bursts of 40.
    assert result["atOnce"] == 30
    assert 40 <= result["afterOneSecond"] <= 47
