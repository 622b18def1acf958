/* The event log: lines worded by the server (presenters/events.py), added to the list once per draw. */
import { $ } from "../dom.js";

const pending = [];
const MAX_LINES = 1000;

/** Queue the log line of one event. */
export function logEvent(ev) {
  const li = document.createElement("li");
  li.className = "log-" + ev.type + (ev.level ? " log-" + ev.level : "");
  const when = typeof ev.time === "number" ? new Date(ev.time * 1000).toLocaleTimeString() : "";
  li.textContent = `${when}  #${ev.seq} ${ev.text}`;
  pending.push(li);
}

/** Put the queued lines on the page in one insertion, however many they are. */
export function flushLog() {
  const list = $("log");
  const fresh = document.createDocumentFragment();
  for (const li of pending.splice(0)) fresh.appendChild(li);
  list.appendChild(fresh);
  while (list.children.length > MAX_LINES) list.removeChild(list.firstChild);
}

/** Empty the log (the run rewound: its events are read again). */
export function clearLog() {
  pending.length = 0;
  $("log").textContent = "";
}
