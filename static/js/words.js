/* Sentences are worded on the server (webapp/experiments/presenters); where a sentence holds a figure that only the
 * page knows at draw time (the epoch a chart has reached, a count of points drawn), the server sends it with {name}
 * slots and the page fills them in here. */

/** The template with each {name} replaced by values[name]; a slot without a value is left as it is. */
export function fill(template, values) {
  return String(template || "").replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}
