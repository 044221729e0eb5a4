/**
 * live-dashboard.js: keeps /live/ current. Each running analysis is followed by id from the seq
 * it was rendered at; the `analyses` feed announces new ones, which get a row and are followed too.
 */

import {
  announce,
  codeLabel,
  createPageClient,
  flash,
  isTerminal,
  keepTimesFresh,
  pageConfig,
  setBadge,
  setProgress,
  setTime,
  signedOutNotice,
} from "./live-ui.js";

const config = pageConfig();
const indicator = document.querySelector("[data-connection]");
const tbody = document.querySelector("[data-rows]");
const rowTemplate = document.querySelector("[data-row-template]");
const filter = document.querySelector("[data-status-filter]");
const counter = document.querySelector("[data-row-count]");
const empty = document.querySelector("[data-empty]");
const announcer = document.querySelector("[data-announcer]");

const client = createPageClient({ wsPath: config.wsPath, indicator, onSignedOut: signedOutNotice(indicator) });
const CATCH_UP_LIMIT = 50;
// The feed takes one subscription of the connection's allowance.
const maxFollowed = Math.max(1, (config.maxSubscriptions ?? 100) - 1);

/** @type {Map<string, HTMLTableRowElement>} */
const rows = new Map();
for (const row of tbody.querySelectorAll("tr[data-analysis-id]")) rows.set(row.dataset.analysisId, row);

function follow(row) {
  const id = row.dataset.analysisId;
  if (isTerminal(row.dataset.status) || client.isSubscribed(id)) return;
  if (client.subscriptionCount >= maxFollowed) {
    row.dataset.live = "off";
    return;
  }
  client.subscribe(id, { sinceSeq: Number(row.dataset.seq) });
}

/** Apply a change (an event body or a snapshot) to a row, if it is newer than what it shows. */
function updateRow(row, change, { updatedAt }) {
  const seq = change.seq;
  if (Number.isInteger(seq) && seq <= Number(row.dataset.seq)) return;
  const before = row.dataset.status;
  if (Number.isInteger(seq)) row.dataset.seq = String(seq);
  row.dataset.status = change.status;
  setBadge(row.querySelector(".badge"), change.status);
  row.querySelector('[data-field="stage"]').textContent = codeLabel(change.stage) || "—";
  setProgress(
    row.querySelector('[data-field="progress"]'),
    row.querySelector('[data-field="progress-text"]'),
    change.progress,
  );
  const retries = row.querySelector('[data-field="retries"]');
  const maxRetries = change.max_retries ?? Number(retries.dataset.max);
  retries.dataset.max = String(maxRetries);
  retries.textContent = `${change.retry_count} / ${maxRetries}`;
  setTime(row.querySelector('[data-field="updated"]'), updatedAt);
  flash(row);
  if (before !== change.status) {
    const name = row.querySelector('[data-field="link"]').textContent;
    announce(announcer, `${name} is now ${change.status}`);
    applyFilter();
  }
  if (isTerminal(change.status)) client.unsubscribe(row.dataset.analysisId);
}

function buildRow(snapshot) {
  const row = rowTemplate.content.firstElementChild.cloneNode(true);
  row.dataset.analysisId = snapshot.analysis_id;
  row.dataset.seq = "0";
  row.dataset.created = snapshot.created_at;
  const link = row.querySelector('[data-field="link"]');
  link.href = `${config.liveRoot}${snapshot.analysis_id}/`;
  link.textContent = snapshot.filename;
  const owner = row.querySelector('[data-field="owner"]');
  if (owner) owner.textContent = snapshot.owner;
  row.querySelector('[data-field="progress"]').setAttribute("aria-label", `Progress of ${snapshot.filename}`);
  row.querySelector('[data-field="retries"]').dataset.max = String(snapshot.max_retries);
  updateRow(row, snapshot, { updatedAt: snapshot.updated_at });
  return row;
}

function applyFilter() {
  const wanted = filter.value;
  let shown = 0;
  for (const row of rows.values()) {
    const visible = !wanted || row.dataset.status === wanted;
    row.hidden = !visible;
    if (visible) shown += 1;
  }
  counter.textContent = `${shown} shown`;
  empty.hidden = shown > 0;
}

client.on("event", (event) => {
  const row = rows.get(event.analysis_id);
  if (row) updateRow(row, event, { updatedAt: event.timestamp });
});

client.on("snapshot", (snapshot) => {
  const row = rows.get(snapshot.analysis_id);
  if (row) updateRow(row, snapshot, { updatedAt: snapshot.updated_at });
});

/** Add a row for an analysis the page does not show yet, in its newest-first place. */
function addAnalysis(snapshot) {
  if (!snapshot || rows.has(snapshot.analysis_id)) return;
  const row = buildRow(snapshot);
  rows.set(snapshot.analysis_id, row);
  const created = Date.parse(snapshot.created_at);
  const later = [...tbody.children].find((other) => Date.parse(other.dataset.created) < created);
  tbody.insertBefore(row, later ?? null);
  announce(announcer, `New analysis: ${snapshot.filename}`);
  applyFilter();
  follow(row);
}

/**
 * The feed has no replay: an analysis created before the feed subscription was answered (just
 * after the page was rendered, or while the connection was down) never comes as
 * `analysis_created`. So each time the feed is (re)confirmed, ask the API for the newest ones.
 */
async function catchUpNewest() {
  try {
    const response = await fetch(`${config.apiList}?limit=${CATCH_UP_LIMIT}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return;
    const { results } = await response.json();
    const newestShown = Math.max(0, ...[...rows.values()].map((row) => Date.parse(row.dataset.created) || 0));
    for (const snapshot of [...results].reverse()) {
      const row = rows.get(snapshot.analysis_id);
      if (row) {
        updateRow(row, snapshot, { updatedAt: snapshot.updated_at });
        follow(row);
      } else if (Date.parse(snapshot.created_at) >= newestShown || rows.size < config.dashboardLimit) {
        addAnalysis(snapshot);
      }
    }
  } catch (error) {
    console.warn("live dashboard: could not catch up with new analyses", error);
  }
}

client.on("created", addAnalysis);
client.on("subscribed", (reply) => {
  if (reply.feed === "analyses") catchUpNewest();
});

client.on("error", (error) => {
  const row = error.analysis_id ? rows.get(error.analysis_id) : null;
  if (row) row.dataset.live = "off";
});

filter.value = new URLSearchParams(location.search).get("status") ?? "";
filter.addEventListener("change", () => {
  const url = new URL(location.href);
  if (filter.value) url.searchParams.set("status", filter.value);
  else url.searchParams.delete("status");
  history.replaceState(null, "", url);
  applyFilter();
});

applyFilter();
keepTimesFresh();
for (const row of rows.values()) follow(row);
client.subscribeFeed("analyses");
client.connect();
