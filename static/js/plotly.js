/* Plotly for the page modules. plotly.js (the full bundle, or our scatter and heatmap build) is a UMD bundle that cannot be imported as an ES module: the page loads
 * it with a classic <script> tag before its modules, and this is the only module that reads the global it sets. */
export const Plotly = window.Plotly;

/** The options every chart is drawn with. */
export const plotConfig = { responsive: true, displaylogo: false };
