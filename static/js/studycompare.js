// The comparison page's studies: their best value against compute, as the server built the figure.
const Plotly = globalThis.Plotly;
const figure = JSON.parse(document.getElementById("study-scatter-data").textContent);
Plotly.react(document.getElementById("study-scatter"), figure.data, figure.layout, { responsive: true, displaylogo: false });
