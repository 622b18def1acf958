/* The one test hook of the pages: a page's live state as `window.nasboard`, read by the browser tests and by
 * `manage.py bench_events --browser` (latencies, historyDrawnMs, polls...). Nothing in the pages reads it back. */
export function exposeForTests(state) {
  window.nasboard = state;
}
