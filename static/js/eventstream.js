/* The live page's push channel: an EventSource on /api/experiments/ID/stream (api/stream.py).
 *
 * Each message's data is what /events?after=SEQ answers for one event, so the page applies it as it applies a
 * poll. The browser reconnects a dropped stream by itself, sending Last-Event-ID, so a server restart or a
 * network drop loses nothing; the page still drops any event at or below the last sequence number it applied.
 * When the stream cannot be had (no EventSource, the server answers 404/501, or it keeps failing) ``fail`` is
 * called once and the page polls instead. */
// consecutive errors (each a failed reconnect, about a second apart) before the page falls back to polling
const MAX_ERRORS = 5;

/* Listen to ``url`` after ``afterSeq``. handlers: page(data) for each message, end(data) once the run has
 * ended and everything was sent, fail(everOpened) when the stream gave up. Returns {close()} or null. */
function open(url, afterSeq, handlers) {
  if (typeof EventSource !== "function" || !url) return null;
  const source = new EventSource(`${url}?after=${afterSeq}`);
  let errors = 0;
  let opened = false;
  let closed = false;
  const close = () => { closed = true; source.close(); };
  source.onopen = () => { opened = true; errors = 0; };
  source.onmessage = (e) => {
    if (closed) return;
    errors = 0;
    handlers.page(JSON.parse(e.data));
  };
  source.addEventListener("end", (e) => {
    if (closed) return;
    close();
    handlers.end(JSON.parse(e.data));
  });
  source.onerror = () => {
    if (closed) return;
    errors += 1;
    // CLOSED: the server refused the stream (an HTTP error, not text/event-stream); the browser will not retry
    if (source.readyState === EventSource.CLOSED || errors >= MAX_ERRORS) {
      close();
      handlers.fail(opened);
    }
  };
  return { close };
}

export { open, MAX_ERRORS };
