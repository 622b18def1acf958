/* Taking a cell away: its drawing as a standalone .svg (every style inline, so it opens anywhere), as a .png (the
 * SVG rasterised through a canvas at twice its size), and its genotype line copied to the clipboard (or selected,
 * for Ctrl+C, where the page may not write to the clipboard). */

const SVG_NS = "http://www.w3.org/2000/svg";

/* The SVG's markup as a standalone document: namespaces, its size in pixels, a white background. */
export function standaloneSvg(svg) {
  const copy = svg.cloneNode(true);
  const [, , w, h] = (copy.getAttribute("viewBox") || "0 0 300 150").split(/\s+/).map(Number);
  copy.setAttribute("xmlns", SVG_NS);
  copy.setAttribute("width", String(w));
  copy.setAttribute("height", String(h));
  copy.removeAttribute("style");
  copy.removeAttribute("class");
  const bg = document.createElementNS(SVG_NS, "rect");
  for (const [k, v] of Object.entries({ x: 0, y: 0, width: w, height: h, fill: "#ffffff" })) bg.setAttribute(k, String(v));
  copy.insertBefore(bg, copy.firstChild);
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(copy);
}

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function downloadSvg(svg, name) {
  download(new Blob([standaloneSvg(svg)], { type: "image/svg+xml" }), `${name}.svg`);
}

/* The drawing at ``scale`` times its size, as a PNG, through an <img> of the standalone SVG and a canvas. */
export async function pngBlob(svg, scale = 2) {
  const [, , w, h] = svg.getAttribute("viewBox").split(/\s+/).map(Number);
  const url = URL.createObjectURL(new Blob([standaloneSvg(svg)], { type: "image/svg+xml" }));
  try {
    const img = new Image();
    img.width = w;
    img.height = h;
    await new Promise((resolve, reject) => { img.onload = resolve; img.onerror = () => reject(new Error("the drawing could not be rasterised")); img.src = url; });
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    const ctx = canvas.getContext("2d");
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0, w, h);
    return await new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("no PNG"))), "image/png"));
  } finally {
    URL.revokeObjectURL(url);
  }
}

export async function downloadPng(svg, name) {
  download(await pngBlob(svg, 2), `${name}.png`);
}

/* A file name from a title: "normal cell, epoch 3" -> "normal-cell-epoch-3". */
export function fileName(title) {
  return String(title || "cell").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "cell";
}

/* The SVG and PNG buttons of a drawn cell. */
export function exportButtons(svg, title) {
  const bar = document.createElement("div");
  bar.className = "cell-export";
  const name = fileName(title);
  const status = document.createElement("span");
  status.className = "cell-export-status";
  status.setAttribute("role", "status");
  for (const [kind, save] of [["SVG", downloadSvg], ["PNG", downloadPng]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = kind;
    button.setAttribute("aria-label", `Download the ${title || "cell"} as ${kind}`);
    button.addEventListener("click", async () => {
      try {
        await save(svg, name);
        status.textContent = "";
      } catch (err) {
        status.textContent = String(err.message || err);
      }
    });
    bar.appendChild(button);
  }
  bar.appendChild(status);
  return bar;
}

/* Copy the text of ``source`` (an element): the clipboard where the page may write to it, with "Copied" said in
 * ``status``; else the text is selected and ``status`` asks for Ctrl+C. */
export async function copyFrom(source, status) {
  const text = source.textContent;
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied";
    status.dataset.outcome = "copied";
  } catch (err) {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    status.textContent = "Selected: press Ctrl+C (⌘C) to copy";
    status.dataset.outcome = "selected";
  }
}

/* Server-rendered copy buttons: <button data-copy-from="ID"> copies the element ID's text; its status is the
 * element named by data-copy-status, or the button's next sibling with role=status. */
export function bindCopyButtons(root = document) {
  root.addEventListener("click", (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest("button[data-copy-from]") : null;
    if (!button) return;
    const source = document.getElementById(button.dataset.copyFrom);
    const status = document.getElementById(button.dataset.copyStatus || "") || button.parentElement.querySelector("[role=status]");
    if (source && status) copyFrom(source, status);
  });
}
