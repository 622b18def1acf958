// The comparison page's studies: their best value against compute, as the server built the figure.
import { pageConfig } from "./dom.js";
import { Plotly, plotConfig } from "./plotly.js";

const figure = pageConfig("study-scatter-data");
Plotly.react(document.getElementById("study-scatter"), figure.data, figure.layout, plotConfig);
