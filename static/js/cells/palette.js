/* Each op its own colour, the same on every page: a fixed table keyed by op name (Okabe-Ito and Paul Tol's
 * colour-blind-safe colours first), a colour computed from the name for ops outside it; the text drawn on a colour
 * is black or white, whichever contrasts more (WCAG's relative luminance), and an edge stroke too light to see on
 * the white page is darkened until it contrasts 3:1. Abbreviations (sep3 for sep_conv_3x3) are for narrow screens. */

const FIXED = {
  sep_conv_3x3: "#0072B2",  // blue
  sep_conv_5x5: "#56B4E9",  // sky blue
  sep_conv_7x7: "#332288",  // indigo
  dil_conv_3x3: "#009E73",  // bluish green
  dil_conv_5x5: "#999933",  // olive
  max_pool_3x3: "#E69F00",  // orange
  avg_pool_3x3: "#F0E442",  // yellow
  skip_connect: "#CC79A7",  // reddish purple
  nor_conv_3x3: "#D55E00",  // vermillion
  nor_conv_1x1: "#44AA99",  // teal
  conv_7x1_1x7: "#882255",  // wine
  noise: "#AA4499",         // purple
  none: "#BBBBBB",          // grey
};

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function rgbToHex([r, g, b]) {
  return "#" + [r, g, b].map((v) => Math.round(Math.max(0, Math.min(255, v))).toString(16).padStart(2, "0")).join("");
}

function hslToHex(h, s, l) {
  const k = (n) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return rgbToHex([f(0) * 255, f(8) * 255, f(4) * 255]);
}

/* WCAG 2 relative luminance of a #rrggbb colour. */
export function luminance(hex) {
  const [r, g, b] = hexToRgb(hex).map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

/* The fill of an op's label box and of its legend swatch. */
export function opColor(op) {
  if (FIXED[op]) return FIXED[op];
  let hash = 0;
  for (const ch of String(op)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hslToHex(hash % 360, 0.55, 0.42 + ((hash >> 9) % 3) * 0.08);
}

/* Black or white, whichever reads better on ``fill``. */
export function textColor(fill) {
  return contrast(fill, "#111111") >= contrast(fill, "#ffffff") ? "#111111" : "#ffffff";
}

/* The edge's stroke: the op's colour, darkened until it contrasts 3:1 with the white background. */
export function strokeColor(op) {
  let rgb = hexToRgb(opColor(op));
  for (let i = 0; i < 20 && contrast(rgbToHex(rgb), "#ffffff") < 3; i++) rgb = rgb.map((v) => v * 0.88);
  return rgbToHex(rgb);
}

/* A short name for narrow drawings: sep_conv_3x3 -> sep3, max_pool_3x3 -> max3, skip_connect -> skip. */
export function abbreviate(op) {
  const name = String(op);
  let m = name.match(/^([a-z]+)_conv_(\d+)x\d+$/);
  if (m) return (m[1] === "nor" ? "conv" : m[1]) + m[2];
  m = name.match(/^([a-z]+)_pool_(\d+)x\d+$/);
  if (m) return m[1] + m[2];
  if (name === "skip_connect") return "skip";
  if (name === "conv_7x1_1x7") return "c7x1";
  if (name.startsWith("cell:")) return name.length <= 9 ? name : name.slice(5, 12);
  return name.length <= 6 ? name : name.slice(0, 6);
}
