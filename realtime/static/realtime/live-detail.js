/**
 * live-detail.js: keeps /live/<id>/ current: the snapshot on top follows the newest event, and
 * each event is appended to the timeline once, in seq order (status-client.js guarantees both).
 */

import {
  announce,
  codeLabel,
  createPageClient,
  flash,
  keepTimesFresh,
  pageConfig,
  setBadge,
  setProgress,
  setTime,
  signedOutNotice,
} from "./live-ui.js";

const config = pageConfig();
const indicator = document.querySelector("[data-connection]");
const snapshotPanel = document.querySelector("[data-snapshot]");
const timeline = document.querySelector("[data-events]");
const eventTemplate = document.querySelector("[data-event-template]");
const announcer = document.querySelector("[data-announcer]");

const client = createPageClient({ wsPath: config.wsPath, indicator, onSignedOut: signedOutNotice(indicator) });

function field(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

/** Update the snapshot panel from an event body or a snapshot, if it is newer than what it shows. */
function showState(change, { updatedAt }) {
  const seq = change.seq;
  if (Number.isInteger(seq) && seq < Number(snapshotPanel.dataset.seq)) return;
  const before = snapshotPanel.dataset.status;
  snapshotPanel.dataset.seq = String(seq);
  snapshotPanel.dataset.status = change.status;
  setBadge(snapshotPanel.querySelector(".badge"), change.status);
  field(snapshotPanel, "stage").textContent = codeLabel(change.stage);
  setProgress(field(snapshotPanel, "progress"), field(snapshotPanel, "progress-text"), change.progress);
  const retries = field(snapshotPanel, "retries");
  const maxRetries = change.max_retries ?? retries.textContent.split("/")[1]?.trim();
  retries.textContent = `${change.retry_count} / ${maxRetries}`;
  field(snapshotPanel, "seq").textContent = String(seq);
  if (change.message) field(snapshotPanel, "message").textContent = change.message;
  setTime(field(snapshotPanel, "updated"), updatedAt);

  const resultBox = snapshotPanel.querySelector("[data-result]");
  const result = change.status === "completed" ? change.result : null;
  resultBox.hidden = !result;
  if (result) {
    const verdict = field(resultBox, "verdict");
    verdict.textContent = result.verdict;
    verdict.dataset.verdict = result.verdict;
    field(resultBox, "confidence").textContent = `${Math.round(result.confidence * 100)} %`;
  }
  const errorBox = snapshotPanel.querySelector("[data-error]");
  errorBox.hidden = !change.error;
  if (change.error) {
    field(errorBox, "error-code").textContent = change.error.code;
    field(errorBox, "error-detail").textContent = change.error.detail;
  }
  if (before !== change.status) {
    let text = `Status: ${change.status}`;
    if (result) text += `, verdict ${result.verdict}`;
    if (change.error) text += `, error ${change.error.code}`;
    announce(announcer, text);
  }
}

function appendEvent(event) {
  if (timeline.querySelector(`tr[data-seq="${event.seq}"]`)) return; // already rendered by the server
  const row = eventTemplate.content.firstElementChild.cloneNode(true);
  row.dataset.seq = String(event.seq);
  field(row, "seq").textContent = String(event.seq);
  setTime(field(row, "timestamp"), event.timestamp);
  field(row, "event").textContent = codeLabel(event.event);
  setBadge(row.querySelector(".badge"), event.status);
  field(row, "stage").textContent = codeLabel(event.stage) || "—";
  field(row, "progress").textContent = `${event.progress} %`;
  field(row, "message").textContent = event.message ?? "";
  field(row, "error").textContent = event.error ? `${event.error.code}: ${event.error.detail}` : "";
  field(row, "actor").textContent = event.actor;
  timeline.append(row);
  flash(row);
}

client.on("event", (event) => {
  if (event.analysis_id !== config.analysisId) return;
  appendEvent(event);
  showState(event, { updatedAt: event.timestamp });
});

client.on("snapshot", (snapshot) => {
  if (snapshot.analysis_id === config.analysisId) showState(snapshot, { updatedAt: snapshot.updated_at });
});

client.on("error", (error) => {
  if (error.analysis_id === config.analysisId) {
    indicator.querySelector("[data-connection-label]").textContent = `Not following: ${error.detail}`;
  }
});

keepTimesFresh();
// Follow from the newest event on the page: a later one is replayed on subscribe. Completed and
// cancelled analyses are followed too, so a snapshot broadcast still reaches the page.
client.subscribe(config.analysisId, { sinceSeq: config.timelineSeq });
client.connect();
