// The new-experiment form shows the settings of the chosen method only: a box marked with data-methods is
// hidden (and its inputs disabled, so they are not sent) unless the optimizer select names one of its methods.
const form = document.getElementById("experiment-form");
const optimizer = form ? form.querySelector("[name=optimizer]") : null;

function showMethodGroups() {
  for (const box of form.querySelectorAll("details[data-methods]")) {
    const applies = box.dataset.methods.split(" ").includes(optimizer.value);
    box.hidden = !applies;
    for (const input of box.querySelectorAll("input, select, textarea")) input.disabled = !applies;
  }
}

if (optimizer) {
  optimizer.addEventListener("change", showMethodGroups);
  showMethodGroups();
}
