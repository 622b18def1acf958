/* The list's Compare button: counts the ticked experiments and is enabled from two on (the server checks again). */
const form = document.getElementById("compare-form");
if (form) {
  const button = document.getElementById("compare-button");
  const count = document.getElementById("compare-count");
  const picks = () => Array.from(document.querySelectorAll("input.pick[form=compare-form]:checked"));
  function update() {
    const n = picks().length;
    button.disabled = n < 2;
    count.textContent = n === 0 ? "tick two or more experiments to compare them"
      : n === 1 ? "1 ticked: tick at least one more" : `${n} ticked`;
  }
  document.addEventListener("change", (ev) => { if (ev.target.matches && ev.target.matches("input.pick")) update(); });
  update();
}
