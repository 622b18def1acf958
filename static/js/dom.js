/* Small DOM helpers the page modules share. */

/** The element with this id (or null). */
export const $ = (id) => document.getElementById(id);

/** A page's settings from its json_script tag (the server's page config). */
export function pageConfig(id) {
  const tag = document.getElementById(id);
  return tag ? JSON.parse(tag.textContent) : {};
}

/** The div with this id in `box`, created the first time: each redraw updates the same plot in place. */
export function childDiv(box, id, className) {
  let div = document.getElementById(id);
  if (!div) {
    div = document.createElement("div");
    div.id = id;
    div.className = className;
    box.appendChild(div);
  }
  return div;
}

/** Text shown as text where Plotly would read a few HTML tags (trace names are the user's words). */
export const plain = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
