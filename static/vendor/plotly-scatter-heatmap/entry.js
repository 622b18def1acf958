// The plotly.js the live and comparison pages need: its core with the scatter and heatmap traces only
// (build.sh bundles it into plotly-scatter-heatmap.min.js).
var Plotly = require("plotly.js/lib/core");

Plotly.register([require("plotly.js/lib/scatter"), require("plotly.js/lib/heatmap")]);

module.exports = Plotly;
