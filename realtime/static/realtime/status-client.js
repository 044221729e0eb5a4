/**
 * status-client.js: a small WebSocket client for the SecureAI status stream (docs/protocol.md §3).
 *
 * A plain ES module with no dependencies and no build step. The live pages use it with the
 * session cookie; frontend apps use it with an access JWT sent in the `secureai.jwt.v1`
 * subprotocol. See docs/status-client.md.
 *
 * What it takes care of, so the code using it only renders:
 * - keeps the last seq seen per analysis and hands over each event once, in seq order:
 *   duplicates (seq <= last) are dropped, and a gap (seq > last + 1) is filled from
 *   `history_request` before the later event is handed over;
 * - reconnects with exponential backoff and jitter, then resubscribes with `since_seq`;
 * - checks `heartbeat` messages against the last seq and fetches what it missed;
 * - answers `token_expiring` by asking the app for a fresh token and sending `authenticate`;
 * - paces what it sends to stay under the server's per-connection rate limit.
 */

export const JWT_SUBPROTOCOL = "secureai.jwt.v1";
export const TERMINAL_STATUSES = Object.freeze(["completed", "cancelled"]);

/** Close codes of docs/protocol.md §3. */
export const CLOSE_CODES = Object.freeze({
  PROTOCOL_VIOLATION: 4400,
  UNAUTHENTICATED: 4401,
  MESSAGE_TOO_BIG: 4413,
  FLOODING: 4429,
});

const EVENT_TYPES = new Set([
  "status_update",
  "stage_transition",
  "progress_update",
  "error_update",
  "completion_update",
]);

const FINAL_SUBSCRIBE_ERRORS = new Set(["not_found", "invalid_analysis_id", "too_many_subscriptions"]);

const DEFAULTS = {
  backoff: { initialMs: 500, maxMs: 30000, factor: 2 },
  // The server allows 20 messages/s with bursts of 40; stay well below it.
  rate: { perSecond: 15, burst: 30 },
  historyLimit: 500,
  // Without any message for this many heartbeat intervals the socket counts as dead.
  silenceFactor: 2.5,
};

/**
 * @typedef {"idle"|"connecting"|"live"|"reconnecting"|"offline"|"closed"} ConnectionState
 *
 * Listener types for `client.on(type, listener)`:
 * - "state"      ({state, previous, attempt, delayMs, code, reason}) connection state changes
 * - "event"      (event, {replay}) one event of docs/protocol.md §2, in seq order, exactly once
 * - "snapshot"   (snapshot, {source}) a snapshot: `status_snapshot`, `status_response`
 * - "created"    (snapshot) `analysis_created` from a feed; subscribe by id to follow it
 * - "subscribed" ({analysis_id, seq} | {feed}) a `subscribe_success`
 * - "connected"  (connection_established message)
 * - "authenticated" ({user, expires_at})
 * - "error"      ({code, detail, request_id, analysis_id?}) an `error` message from the server
 * - "closed"     ({code, reason, willReconnect}) the socket closed
 * - "message"    (message) every message as received, for debugging
 */
export class StatusClient {
  /**
   * @param {object} [options]
   * @param {string} [options.url] full ws:// or wss:// URL; default: `path` on the page's host
   * @param {string} [options.path="/ws/status/"]
   * @param {string|(() => string|Promise<string>)} [options.token] access JWT, or a function
   *   returning one; without it the connection relies on the session cookie
   * @param {() => string|Promise<string>} [options.refreshToken] returns a fresh access JWT;
   *   called on `token_expiring` and after a 4401 close
   * @param {{initialMs?: number, maxMs?: number, factor?: number}} [options.backoff]
   * @param {{perSecond?: number, burst?: number}} [options.rate]
   * @param {typeof WebSocket} [options.WebSocket] a WebSocket implementation (default: the global one)
   */
  constructor(options = {}) {
    this.url = options.url ?? defaultUrl(options.path ?? "/ws/status/");
    this.backoff = { ...DEFAULTS.backoff, ...options.backoff };
    this.rate = { ...DEFAULTS.rate, ...options.rate };
    this.historyLimit = options.historyLimit ?? DEFAULTS.historyLimit;
    this.refreshToken = options.refreshToken ?? null;
    this._tokenSource = options.token ?? null;
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;

    /** @type {ConnectionState} */
    this.state = "idle";
    this.connectionId = null;
    this.user = null;
    this.heartbeatIntervalMs = 25000;
    this.stats = { duplicatesDropped: 0, gapsFilled: 0, reconnects: 0 };

    this._ws = null;
    this._stopped = true;
    this._attempt = 0;
    this._reconnectTimer = null;
    this._watchdog = null;
    this._lastMessageAt = 0;
    this._holdUntil = 0;
    this._listeners = new Map();
    this._requests = new Map(); // request_id -> {kind, analysisId}
    this._requestCounter = 0;
    /** analysis id -> {lastSeq, pending: Map<seq, {event, replay}>, fetching, retryTimer} */
    this._streams = new Map();
    this._feeds = new Set();
    this._outbox = [];
    this._tokens = this.rate.burst;
    this._tokensAt = now();
    this._pumpTimer = null;

    this._onOnline = () => this._reconnectNow();
    this._onOffline = () => {
      if (this.state !== "live") this._setState("offline");
    };
  }

  // --- listeners ------------------------------------------------------------------------------

  /** Add a listener; returns a function that removes it. */
  on(type, listener) {
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(listener);
    return () => this._listeners.get(type)?.delete(listener);
  }

  _emit(type, ...args) {
    for (const listener of this._listeners.get(type) ?? []) {
      try {
        listener(...args);
      } catch (error) {
        console.error(`status-client: a "${type}" listener failed`, error);
      }
    }
  }

  // --- connection -----------------------------------------------------------------------------

  /** Open the connection; it then stays open, reconnecting as needed, until close(). */
  connect() {
    if (!this._stopped) return this;
    this._stopped = false;
    if (typeof globalThis.addEventListener === "function") {
      globalThis.addEventListener("online", this._onOnline);
      globalThis.addEventListener("offline", this._onOffline);
    }
    this._open();
    return this;
  }

  /** Close for good: no reconnect. */
  close() {
    this._stopped = true;
    clearTimeout(this._reconnectTimer);
    clearInterval(this._watchdog);
    if (typeof globalThis.removeEventListener === "function") {
      globalThis.removeEventListener("online", this._onOnline);
      globalThis.removeEventListener("offline", this._onOffline);
    }
    const ws = this._ws;
    this._ws = null;
    if (ws) ws.close(1000, "client closed");
    this._setState("closed");
  }

  async _open() {
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    if (this._stopped || this._ws) return;
    this._setState(this.stats.reconnects === 0 && this._attempt === 0 ? "connecting" : "reconnecting");
    let token = null;
    try {
      token = await this._currentToken();
    } catch (error) {
      console.warn("status-client: could not get a token", error);
      this._scheduleReconnect({ code: 0, reason: "no token" });
      return;
    }
    if (this._stopped || this._ws) return;
    let ws;
    try {
      ws = token ? new this._WebSocket(this.url, [JWT_SUBPROTOCOL, token]) : new this._WebSocket(this.url);
    } catch (error) {
      console.warn("status-client: could not open the socket", error);
      this._scheduleReconnect({ code: 0, reason: String(error) });
      return;
    }
    this._ws = ws;
    this._lastMessageAt = now();
    ws.onmessage = (message) => {
      if (this._ws === ws) this._receive(message.data);
    };
    ws.onclose = (close) => {
      if (this._ws === ws) this._closed(close.code, close.reason);
    };
    ws.onerror = () => {}; // onclose follows and decides
  }

  async _currentToken() {
    const source = this._tokenSource;
    if (!source) return null;
    return typeof source === "function" ? await source() : source;
  }

  _closed(code, reason) {
    this._ws = null;
    this.connectionId = null;
    clearInterval(this._watchdog);
    this._outbox = [];
    this._requests.clear();
    for (const stream of this._streams.values()) {
      stream.fetching = false;
      clearTimeout(stream.retryTimer);
    }
    if (this._stopped) {
      this._emit("closed", { code, reason, willReconnect: false });
      this._setState("closed");
      return;
    }
    if (code === CLOSE_CODES.PROTOCOL_VIOLATION) {
      // The protocol says not to retry: a reconnect would only repeat the violation.
      this._emit("closed", { code, reason, willReconnect: false });
      this._stopped = true;
      this._setState("offline", { code, reason });
      return;
    }
    if (code === CLOSE_CODES.UNAUTHENTICATED) {
      if (!this.refreshToken) {
        // A page whose session ended: only signing in again helps.
        this._emit("closed", { code, reason, willReconnect: false });
        this._stopped = true;
        this._setState("offline", { code, reason });
        return;
      }
      this._tokenSource = this._freshTokenOnce();
    }
    if (code === CLOSE_CODES.FLOODING) this._attempt = Math.max(this._attempt, 4);
    this._emit("closed", { code, reason, willReconnect: true });
    this._scheduleReconnect({ code, reason });
  }

  /** A token source that asks the app for a fresh token on the next connect. */
  _freshTokenOnce() {
    let fresh = null;
    return async () => {
      if (fresh === null) fresh = await this.refreshToken();
      this._tokenSource = fresh;
      return fresh;
    };
  }

  _scheduleReconnect({ code, reason }) {
    if (this._stopped) return;
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.initialMs * this.backoff.factor ** this._attempt);
    // "Equal jitter": at least half the step, so clients that lost the same server spread out
    // without any of them hammering it.
    let delayMs = ceiling / 2 + Math.random() * (ceiling / 2);
    delayMs = Math.max(delayMs, this._holdUntil - now());
    this._attempt += 1;
    this.stats.reconnects += 1;
    const offline = globalThis.navigator && globalThis.navigator.onLine === false;
    this._setState(offline ? "offline" : "reconnecting", { attempt: this._attempt, delayMs, code, reason });
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = setTimeout(() => this._open(), delayMs);
  }

  _reconnectNow() {
    if (this._stopped || this._ws || !this._reconnectTimer || this._holdUntil > now()) return;
    this._open();
  }

  _setState(state, details = {}) {
    if (state === this.state && !details.attempt) return;
    const previous = this.state;
    this.state = state;
    this._emit("state", { state, previous, ...details });
  }

  _startWatchdog() {
    clearInterval(this._watchdog);
    const limit = this.heartbeatIntervalMs * DEFAULTS.silenceFactor;
    this._watchdog = setInterval(
      () => {
        if (this._ws && now() - this._lastMessageAt > limit) {
          // Nothing at all, not even a heartbeat: the connection is gone without a close.
          this._dropSocket(4000, "no heartbeat");
        }
      },
      Math.min(5000, limit / 2),
    );
  }

  _dropSocket(code, reason) {
    const ws = this._ws;
    if (!ws) return;
    this._closed(code, reason);
    try {
      ws.close(code === 1000 ? 1000 : 4000, reason);
    } catch {
      // already closing
    }
  }

  // --- subscriptions --------------------------------------------------------------------------

  /**
   * Follow one analysis. `sinceSeq`: the seq the caller already shows (e.g. the seq a page was
   * rendered at); events after it are replayed, so nothing falls between rendering and subscribing.
   */
  subscribe(analysisId, { sinceSeq } = {}) {
    const id = String(analysisId);
    let stream = this._streams.get(id);
    if (!stream) {
      stream = { lastSeq: null, pending: new Map(), fetching: false, retryTimer: null };
      this._streams.set(id, stream);
    }
    if (Number.isInteger(sinceSeq) && (stream.lastSeq === null || sinceSeq > stream.lastSeq)) {
      stream.lastSeq = sinceSeq;
    }
    if (this.state === "live") this._sendSubscribe(id);
    return this;
  }

  unsubscribe(analysisId) {
    const id = String(analysisId);
    const stream = this._streams.get(id);
    if (!stream) return this;
    clearTimeout(stream.retryTimer);
    this._streams.delete(id);
    if (this.state === "live") this._enqueue({ type: "unsubscribe_request", analysis_id: id });
    return this;
  }

  /** Follow a feed; `analyses` announces each new analysis the user may read. */
  subscribeFeed(feed = "analyses") {
    this._feeds.add(feed);
    if (this.state === "live") this._sendFeedSubscribe(feed);
    return this;
  }

  unsubscribeFeed(feed = "analyses") {
    if (this._feeds.delete(feed) && this.state === "live") this._enqueue({ type: "unsubscribe_request", feed });
    return this;
  }

  isSubscribed(analysisId) {
    return this._streams.has(String(analysisId));
  }

  /** The last seq handed over for an analysis, or null. */
  lastSeq(analysisId) {
    return this._streams.get(String(analysisId))?.lastSeq ?? null;
  }

  get subscriptionCount() {
    return this._streams.size;
  }

  /** Ask for a snapshot; it arrives as a "snapshot" with source "status_response". */
  requestStatus(analysisId) {
    this._enqueue({ type: "status_request", analysis_id: String(analysisId) });
  }

  /** Send a fresh access token on the open connection. */
  authenticate(token) {
    this._tokenSource = token;
    this._enqueue({ type: "authenticate", jwt_token: token });
  }

  _sendSubscribe(id) {
    const stream = this._streams.get(id);
    const message = { type: "subscribe_request", analysis_id: id };
    if (stream.lastSeq !== null) message.since_seq = stream.lastSeq;
    this._enqueue(message, { kind: "subscribe", analysisId: id });
  }

  _sendFeedSubscribe(feed) {
    this._enqueue({ type: "subscribe_request", feed }, { kind: "feed", feed });
  }

  _resubscribeAll() {
    for (const id of this._streams.keys()) this._sendSubscribe(id);
    for (const feed of this._feeds) this._sendFeedSubscribe(feed);
  }

  /** Subscriptions sent on this connection and not yet answered. */
  get pendingSubscriptions() {
    let count = 0;
    for (const request of this._requests.values()) {
      if (request.kind === "subscribe" || request.kind === "feed") count += 1;
    }
    return count;
  }

  // --- sending --------------------------------------------------------------------------------

  /** Send a message; it waits for an open connection and for the rate limit. */
  send(message) {
    this._enqueue({ ...message });
  }

  _enqueue(message, request = null) {
    if (request) {
      message.request_id = `c${++this._requestCounter}`;
      this._requests.set(message.request_id, request);
    }
    this._outbox.push(message);
    this._pump();
  }

  _pump() {
    if (this._pumpTimer) return;
    while (this._outbox.length && this._ws && this._ws.readyState === 1 && this.connectionId !== null) {
      const elapsed = (now() - this._tokensAt) / 1000;
      this._tokens = Math.min(this.rate.burst, this._tokens + elapsed * this.rate.perSecond);
      this._tokensAt = now();
      if (this._tokens < 1) {
        const waitMs = ((1 - this._tokens) / this.rate.perSecond) * 1000;
        this._pumpTimer = setTimeout(() => {
          this._pumpTimer = null;
          this._pump();
        }, waitMs);
        return;
      }
      this._tokens -= 1;
      this._ws.send(JSON.stringify(this._outbox.shift()));
    }
  }

  // --- receiving ------------------------------------------------------------------------------

  _receive(data) {
    this._lastMessageAt = now();
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      console.warn("status-client: a message that is not JSON", data);
      return;
    }
    this._emit("message", message);
    const type = message.type;
    if (EVENT_TYPES.has(type)) {
      // Hand over the event body of docs/protocol.md §2, the same shape as a history_response carries.
      const { type: _type, replay, ...event } = message;
      this._receiveEvent(event, { replay: replay === true });
      return;
    }
    switch (type) {
      case "connection_established":
        this._established(message);
        break;
      case "subscribe_success":
        this._subscribed(message);
        break;
      case "history_response":
        this._history(message);
        break;
      case "heartbeat":
        this._heartbeat(message);
        break;
      case "status_snapshot":
      case "status_response":
        this._snapshot(message.analysis, type);
        break;
      case "analysis_created":
        this._emit("created", message.analysis);
        break;
      case "token_expiring":
        this._tokenExpiring(message);
        break;
      case "authenticated":
        this.user = message.user ?? this.user;
        this._emit("authenticated", message);
        break;
      case "error":
        this._error(message);
        break;
      default:
        break; // pong, unsubscribe_success, and anything newer: nothing to do
    }
  }

  _established(message) {
    this.connectionId = message.connection_id ?? "";
    this.user = message.user ?? null;
    if (typeof message.heartbeat_interval === "number" && message.heartbeat_interval > 0) {
      this.heartbeatIntervalMs = message.heartbeat_interval * 1000;
    }
    this._attempt = 0;
    this._startWatchdog();
    this._emit("connected", message);
    if (!message.authenticated && !this._tokenSource) {
      // A page without a session: the server will close with 4401 and we stop there.
      this._setState("offline", { reason: "not signed in" });
      return;
    }
    this._setState("live");
    this._resubscribeAll();
    this._pump();
  }

  _subscribed(message) {
    this._requests.delete(message.request_id);
    const id = message.analysis_id;
    const stream = id ? this._streams.get(id) : null;
    if (stream && stream.lastSeq === null && Number.isInteger(message.seq)) {
      // Subscribed without a cursor: live events start after the current seq.
      stream.lastSeq = message.seq;
    }
    this._emit("subscribed", message);
  }

  _receiveEvent(event, { replay, fromHistory = false }) {
    const stream = this._streams.get(event.analysis_id);
    if (!stream || !Number.isInteger(event.seq)) return;
    if (stream.lastSeq !== null && event.seq <= stream.lastSeq) {
      this.stats.duplicatesDropped += 1;
      return;
    }
    if (stream.lastSeq === null || event.seq === stream.lastSeq + 1) {
      this._deliver(stream, event, replay || fromHistory);
      this._drainPending(event.analysis_id, stream);
      return;
    }
    // A gap: keep the later event and fill in the missing ones from history first.
    if (stream.pending.has(event.seq)) {
      this.stats.duplicatesDropped += 1;
      return;
    }
    stream.pending.set(event.seq, { event, replay });
    if (!fromHistory) this._fetchHistory(event.analysis_id);
  }

  _deliver(stream, event, replay) {
    stream.lastSeq = event.seq;
    this._emit("event", event, { replay: Boolean(replay) });
  }

  _drainPending(id, stream) {
    for (const seq of [...stream.pending.keys()]) {
      if (seq <= stream.lastSeq) stream.pending.delete(seq);
    }
    while (stream.pending.has(stream.lastSeq + 1) && this._streams.get(id) === stream) {
      const next = stream.pending.get(stream.lastSeq + 1);
      stream.pending.delete(next.event.seq);
      this._deliver(stream, next.event, next.replay);
    }
  }

  _fetchHistory(id) {
    const stream = this._streams.get(id);
    if (!stream || stream.fetching || stream.lastSeq === null) return;
    stream.fetching = true;
    this._enqueue(
      { type: "history_request", analysis_id: id, since_seq: stream.lastSeq, limit: this.historyLimit },
      { kind: "history", analysisId: id },
    );
  }

  _history(message) {
    this._requests.delete(message.request_id);
    const id = message.analysis_id;
    const stream = this._streams.get(id);
    if (!stream) return;
    stream.fetching = false;
    const before = stream.lastSeq;
    const events = [...(message.events ?? [])].sort((a, b) => a.seq - b.seq);
    for (const event of events) this._receiveEvent(event, { replay: true, fromHistory: true });
    if (stream.lastSeq !== before) this.stats.gapsFilled += 1;
    this._drainPending(id, stream);
    if (message.has_more) {
      this._fetchHistory(id);
    } else if (stream.pending.size) {
      // Still a hole: the later event was seen before its predecessors were readable. Ask again.
      clearTimeout(stream.retryTimer);
      stream.retryTimer = setTimeout(() => this._fetchHistory(id), 500);
    }
  }

  _heartbeat(message) {
    for (const [id, latest] of Object.entries(message.subscriptions ?? {})) {
      const stream = this._streams.get(id);
      if (stream && stream.lastSeq !== null && Number.isInteger(latest) && latest > stream.lastSeq) {
        this._fetchHistory(id);
      }
    }
  }

  _snapshot(snapshot, source) {
    if (!snapshot) return;
    this._emit("snapshot", snapshot, { source });
    const stream = this._streams.get(snapshot.analysis_id);
    if (stream && stream.lastSeq !== null && Number.isInteger(snapshot.seq) && snapshot.seq > stream.lastSeq) {
      this._fetchHistory(snapshot.analysis_id);
    }
  }

  async _tokenExpiring(message) {
    this._emit("token_expiring", message);
    if (!this.refreshToken) return;
    try {
      const token = await this.refreshToken();
      if (token) this.authenticate(token);
    } catch (error) {
      console.warn("status-client: refreshing the token failed; the server will close with 4401", error);
    }
  }

  _error(message) {
    const request = message.request_id ? this._requests.get(message.request_id) : null;
    if (message.request_id) this._requests.delete(message.request_id);
    const detail = { ...message };
    if (request?.analysisId) detail.analysis_id = request.analysisId;
    const stream = request ? this._streams.get(request.analysisId) : null;
    if (request?.kind === "history" && stream) stream.fetching = false;
    if (stream && message.code === "rate_limited") {
      // Refused for pace, not for content: the same request goes again a little later.
      clearTimeout(stream.retryTimer);
      stream.retryTimer = setTimeout(() => {
        if (this._streams.get(request.analysisId) !== stream || this.state !== "live") return;
        if (request.kind === "history") this._fetchHistory(request.analysisId);
        else this._sendSubscribe(request.analysisId);
      }, 1000);
    } else if (request?.kind === "subscribe" && FINAL_SUBSCRIBE_ERRORS.has(message.code)) {
      // not_found, invalid_analysis_id, too_many_subscriptions: asking again would get the
      // same answer, so the analysis is no longer followed, not even after a reconnect.
      this._streams.delete(request.analysisId);
    }
    this._emit("error", detail);
  }

  // --- test hook ------------------------------------------------------------------------------

  /**
   * Break the connection as a network failure would, for tests and demos: the client reconnects
   * with its usual backoff, but not before `holdMs` have passed.
   */
  simulateDrop({ holdMs = 0 } = {}) {
    this._holdUntil = now() + holdMs;
    this._dropSocket(4000, "simulated drop");
  }
}

function defaultUrl(path) {
  const location = globalThis.location;
  if (!location) throw new Error("status-client: give a url when there is no page location");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

function now() {
  return globalThis.performance?.now?.() ?? Date.now();
}
