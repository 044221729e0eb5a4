/**
 * live-ui.js: what the live pages and the live admin share besides the client itself:
 * the connection indicator, labels, times, and the small DOM updates of a status change.
 */

import { StatusClient, TERMINAL_STATUSES } from "./status-client.js";

const STATE_LABELS = {
  idle: "Connecting…",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  closed: "Offline",
};

/** `face_detection` -> `face detection`, as the `code_label` template filter writes it. */
export function codeLabel(code) {
  return code ? String(code).replaceAll("_", " ") : "";
}

export function isTerminal(status) {
  return TERMINAL_STATUSES.includes(status);
}

/** Reads the json_script configuration a page renders. */
export function pageConfig(id = "live-config") {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : {};
}

/**
 * Create the page's client and remember it, with every connection state it went through, on
 * `window.secureaiLive` (the pages' tests read it; people can inspect it in the console).
 */
export function createPageClient({ wsPath = "/ws/status/", indicator, onSignedOut } = {}) {
  const client = new StatusClient({ path: wsPath });
  const live = { client, states: [], loadedAt: new Date().toISOString(), events: 0 };
  window.secureaiLive = live;
  client.on("state", ({ state, code }) => {
    live.states.push(state);
    if (indicator) showConnection(indicator, state);
    if (state === "offline" && code === 4401 && onSignedOut) onSignedOut();
  });
  client.on("event", () => {
    live.events += 1;
  });
  return client;
}

export function showConnection(indicator, state) {
  indicator.dataset.state = state;
  const label = indicator.querySelector("[data-connection-label]");
  if (label) label.textContent = STATE_LABELS[state] ?? state;
}

/** Show a sign-in link in the indicator once the session is gone. */
export function signedOutNotice(indicator) {
  return () => {
    const label = indicator.querySelector("[data-connection-label]");
    if (!label) return;
    const link = document.createElement("a");
    link.href = `/accounts/login/?next=${encodeURIComponent(location.pathname + location.search)}`;
    link.textContent = "sign in again";
    label.replaceChildren("Offline: ", link);
  };
}

export function setBadge(badge, status) {
  if (!badge || !status) return;
  badge.dataset.status = status;
  badge.textContent = status;
}

export function setProgress(progressElement, textElement, value) {
  const percent = Number.isFinite(value) ? value : 0;
  if (progressElement) {
    progressElement.value = percent;
    progressElement.textContent = `${percent} %`;
  }
  if (textElement) textElement.textContent = `${percent} %`;
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const clockFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const shortClockFormat = new Intl.DateTimeFormat(undefined, {
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const UNITS = [
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
];

export function relativeTime(iso, nowMs = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.round((then - nowMs) / 1000);
  if (Math.abs(seconds) < 45) return "just now";
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return relativeFormat.format(Math.round(seconds / size), unit);
  }
  return relativeFormat.format(Math.round(seconds / 60), "minute");
}

export function clockTime(iso) {
  const then = Date.parse(iso);
  return Number.isNaN(then) ? "" : clockFormat.format(then);
}

/**
 * Set a <time> element to a moment: `data-relative` ones read "3 minutes ago", `data-clock="short"`
 * ones "26 Nov, 09:14:03", the rest the full local date and time (always in the title).
 */
export function setTime(element, iso) {
  if (!element || !iso) return;
  element.dateTime = iso;
  element.title = clockTime(iso);
  if ("relative" in element.dataset) element.textContent = relativeTime(iso);
  else if (element.dataset.clock === "short") element.textContent = shortClockFormat.format(Date.parse(iso));
  else element.textContent = clockTime(iso);
}

/** Render every <time data-relative> and <time data-clock> under `root`, and keep the relative ones fresh. */
export function keepTimesFresh(root = document) {
  const render = () => {
    for (const element of root.querySelectorAll("time[data-relative], time[data-clock]")) {
      if (element.dateTime) setTime(element, element.dateTime);
    }
  };
  render();
  setInterval(render, 15000);
}

/** A polite screen-reader announcement, e.g. "interview.mp4 is now completed". */
export function announce(announcer, text) {
  if (!announcer) return;
  announcer.textContent = "";
  // A fresh text node after a tick makes screen readers announce repeated messages too.
  setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

/** Flash an element to draw the eye to a change; skipped when people ask for less motion. */
export function flash(element) {
  if (!element || window.matchMedia("(prefers-reduced-motion: reduce)").matches) return;
  element.classList.remove("is-updated");
  void element.offsetWidth; // restart the animation
  element.classList.add("is-updated");
}
