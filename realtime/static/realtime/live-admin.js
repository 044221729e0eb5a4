/**
 * live-admin.js: the Analysis change list and change page of the admin, kept live with the
 * same client as the live pages, so staff see workers' progress without reloading.
 */

import {
  clockTime,
  codeLabel,
  createPageClient,
  flash,
  isTerminal,
  setBadge,
  setProgress,
  signedOutNotice,
} from "./live-ui.js";

const indicator = document.querySelector("[data-connection]");
if (indicator) {
  const client = createPageClient({
    wsPath: indicator.dataset.wsPath,
    indicator,
    onSignedOut: signedOutNotice(indicator),
  });
  const rowsData = document.querySelector("[data-live-admin-rows]");
  const objectPanel = document.querySelector("[data-live-admin-object]");
  if (rowsData) followChangeList(client, rowsData);
  if (objectPanel) followChangeForm(client, objectPanel);
  client.connect();
}

// --- the change list ----------------------------------------------------------------------------

function findRow(id) {
  const checkbox = document.querySelector(`#result_list input.action-select[value="${CSS.escape(id)}"]`);
  if (checkbox) return checkbox.closest("tr");
  const link = document.querySelector(`#result_list a[href*="/${CSS.escape(id)}/change/"]`);
  return link ? link.closest("tr") : null;
}

function followChangeList(client, rowsData) {
  /** @type {Map<string, {row: HTMLTableRowElement, seq: number}>} */
  const rows = new Map();
  for (const item of rowsData.querySelectorAll("[data-id]")) {
    const row = findRow(item.dataset.id);
    if (!row) continue;
    const entry = { row, seq: Number(item.dataset.seq) };
    rows.set(item.dataset.id, entry);
    enhanceRow(row, item.dataset.filename);
    showRow(entry, {
      seq: entry.seq,
      status: item.dataset.status,
      stage: item.dataset.stage || null,
      progress: Number(item.dataset.progress),
      retry_count: Number(item.dataset.retries),
    });
    if (!isTerminal(item.dataset.status)) client.subscribe(item.dataset.id, { sinceSeq: entry.seq });
  }

  const apply = (change, updatedAt) => {
    const entry = rows.get(change.analysis_id);
    if (!entry || change.seq < entry.seq) return;
    showRow(entry, change, updatedAt);
    flash(entry.row);
    if (isTerminal(change.status)) client.unsubscribe(change.analysis_id);
  };
  client.on("event", (event) => apply(event, event.timestamp));
  client.on("snapshot", (snapshot) => apply(snapshot, snapshot.updated_at));
  announceNewAnalyses(client, rows);
}

/**
 * The change list is Django's own table (sorting, filters, pages), so a new analysis is not
 * spliced into it: a notice counts the new ones and offers a reload instead.
 */
function announceNewAnalyses(client, rows) {
  const notice = document.querySelector("[data-live-admin-new]");
  if (!notice) return;
  const fresh = new Set();
  client.on("created", (snapshot) => {
    if (rows.has(snapshot.analysis_id) || fresh.has(snapshot.analysis_id)) return;
    fresh.add(snapshot.analysis_id);
    const count = fresh.size;
    notice.querySelector("a").textContent =
      `${count} new ${count === 1 ? "analysis" : "analyses"} since this page loaded: reload to show`;
    notice.hidden = false;
  });
  client.subscribeFeed("analyses");
}

/** Give the status cell a badge and the progress cell a bar, as on the live pages. */
function enhanceRow(row, filename) {
  const statusCell = row.querySelector("td.field-status");
  if (statusCell && !statusCell.querySelector(".badge")) {
    const badge = document.createElement("span");
    badge.className = "badge";
    statusCell.replaceChildren(badge);
  }
  const progressCell = row.querySelector("td.field-progress");
  if (progressCell && !progressCell.querySelector("progress")) {
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.setAttribute("aria-label", `Progress of ${filename}`);
    const text = document.createElement("span");
    text.className = "live-admin-progress-text";
    text.setAttribute("aria-hidden", "true");
    progressCell.replaceChildren(bar, " ", text);
  }
}

function showRow(entry, change, updatedAt) {
  const { row } = entry;
  if (Number.isInteger(change.seq)) entry.seq = change.seq;
  setBadge(row.querySelector("td.field-status .badge"), change.status);
  const stage = row.querySelector("td.field-stage");
  if (stage) stage.textContent = codeLabel(change.stage) || "-";
  const progress = row.querySelector("td.field-progress");
  if (progress) {
    setProgress(progress.querySelector("progress"), progress.querySelector(".live-admin-progress-text"), change.progress);
  }
  const retries = row.querySelector("td.field-retry_count");
  if (retries && Number.isInteger(change.retry_count)) retries.textContent = String(change.retry_count);
  const updated = row.querySelector("td.field-updated_at");
  if (updated && updatedAt) {
    updated.textContent = clockTime(updatedAt);
    updated.title = updatedAt;
  }
}

// --- the change page ----------------------------------------------------------------------------

function followChangeForm(client, panel) {
  const id = panel.dataset.analysisId;
  const notice = panel.querySelector("[data-live-admin-notice]");
  const form = panel.closest("form");
  const inputs = {
    status: form.querySelector("#id_status"),
    stage: form.querySelector("#id_stage"),
    progress: form.querySelector("#id_progress"),
  };
  // Fields staff have touched keep their value; after a refused save all of them do.
  const touched = new Set();
  if (document.querySelector(".errornote")) Object.keys(inputs).forEach((name) => touched.add(name));
  for (const [name, input] of Object.entries(inputs)) {
    input?.addEventListener("input", () => touched.add(name));
    input?.addEventListener("change", () => touched.add(name));
  }

  const apply = (change, updatedAt) => {
    if (change.analysis_id !== id || change.seq < Number(panel.dataset.seq)) return;
    panel.dataset.seq = String(change.seq);
    panel.dataset.status = change.status;
    setBadge(panel.querySelector(".badge"), change.status);
    panel.querySelector('[data-field="stage"]').textContent = codeLabel(change.stage);
    setProgress(
      panel.querySelector('[data-field="progress"]'),
      panel.querySelector('[data-field="progress-text"]'),
      change.progress,
    );
    panel.querySelector('[data-field="seq"]').textContent = String(change.seq);
    setReadonly(form, "seq", String(change.seq));
    setReadonly(form, "retry_count", String(change.retry_count));
    if (updatedAt) setReadonly(form, "updated_at", clockTime(updatedAt));
    flash(panel);

    // Untouched fields follow the analysis, so saving them changes nothing by accident.
    const values = { status: change.status, stage: change.stage ?? "", progress: String(change.progress) };
    const kept = [];
    for (const [name, input] of Object.entries(inputs)) {
      if (!input) continue;
      if (touched.has(name)) kept.push(name);
      else input.value = values[name];
    }
    if (kept.length) {
      const who = change.actor ? ` by ${change.actor}` : "";
      notice.textContent =
        `Changed${who} while you were editing: now ${change.status}` +
        `${change.stage ? `, ${codeLabel(change.stage)}` : ""}, ${change.progress} %. ` +
        `Your edit of ${kept.join(", ")} will be checked against this when you save.`;
      notice.hidden = false;
    }
  };
  client.on("event", (event) => apply(event, event.timestamp));
  client.on("snapshot", (snapshot) => apply(snapshot, snapshot.updated_at));
  client.subscribe(id, { sinceSeq: Number(panel.dataset.seq) });
}

function setReadonly(form, name, text) {
  const cell = form.querySelector(`.field-${name} .readonly`);
  if (cell) cell.textContent = text;
}
