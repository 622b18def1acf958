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

// Picking a protocol fills the fields with its settings (the server's page config: values and the line that
// cites it); the fields it filled before go back to their initial values first.  The user may then change any.
const protocolSelect = form ? form.querySelector("[name=protocol]") : null;
const protocolData = document.getElementById("protocol-config");
const protocolLine = document.getElementById("protocol-line");

function setField(name, value) {
  const input = form.querySelector(`[name=${name}]`);
  if (!input) return;
  if (input.type === "checkbox") input.checked = value === "true";
  else input.value = value;
}

if (protocolSelect && protocolData) {
  const config = JSON.parse(protocolData.textContent);
  let filled = [];
  protocolSelect.addEventListener("change", () => {
    for (const name of filled) if (name in config.initial) setField(name, config.initial[name]);
    const values = config.values[protocolSelect.value] || {};
    for (const [name, value] of Object.entries(values)) setField(name, value);
    filled = Object.keys(values);
    protocolLine.textContent = config.lines[protocolSelect.value] || "";
    protocolLine.hidden = !protocolLine.textContent;
    if (optimizer) showMethodGroups();
  });
}

// Picking a method fills the settings its preset changes (ProxylessNAS's architecture Adam: presets.py), in the
// fields the user left at their initial values; the fields the previous method's preset filled go back first.
if (optimizer && protocolData) {
  const config = JSON.parse(protocolData.textContent);
  let presetFilled = {};
  const presetDefaults = () => {
    for (const [name, value] of Object.entries(presetFilled)) {
      const input = form.querySelector(`[name=${name}]`);
      if (input && input.value === value && name in config.initial) setField(name, config.initial[name]);
    }
    presetFilled = {};
    for (const [name, value] of Object.entries((config.presets || {})[optimizer.value] || {})) {
      const input = form.querySelector(`[name=${name}]`);
      if (!input || !(name in config.initial) || input.value !== config.initial[name]) continue;
      setField(name, value);
      presetFilled[name] = value;
    }
  };
  optimizer.addEventListener("change", presetDefaults);
}
