/* Curation without reloading: star, baseline, archive, tags and notes forms (class "curate-form") are plain POST
 * forms that work without JavaScript; here they are sent with fetch and the page is updated from the JSON answer.
 * Tag names are inserted as text, never as HTML; the notes' HTML comes rendered and escaped by the server. */
const FLAGS = {
  starred: { on: "★", off: "☆", onTitle: "Starred: click to unstar", offTitle: "Star", onAction: "unstar", offAction: "star" },
  is_baseline: { on: "Baseline ✓", off: "Mark as baseline", onAction: "unbaseline", offAction: "baseline" },
  archived: { on: "Archived: restore", off: "Archive", onAction: "unarchive", offAction: "archive" },
};

function message(form, text) {
  let box = document.getElementById("curation-error");
  if (!box) {
    box = document.createElement("p");
    box.id = "curation-error";
    box.className = "field-error floating";
    document.querySelector("main").prepend(box);
  }
  box.textContent = text || "";
  box.hidden = !text;
}

function updateFlags(id, data) {
  for (const group of document.querySelectorAll(`.curation-flags[data-id="${id}"]`)) {
    for (const button of group.querySelectorAll("button[data-flag]")) {
      const flag = button.dataset.flag, spec = FLAGS[flag];
      if (!spec || typeof data[flag] !== "boolean") continue;
      const on = data[flag];
      button.textContent = on ? spec.on : spec.off;
      button.classList.toggle("on", on);
      button.setAttribute("aria-pressed", String(on));
      if (spec.onTitle) button.title = on ? spec.onTitle : spec.offTitle;
      button.form.querySelector('input[name="action"]').value = on ? spec.onAction : spec.offAction;
    }
  }
}

function tagChip(name, template) {
  const form = template.cloneNode(false);
  for (const input of template.querySelectorAll('input[type="hidden"]')) {
    const copy = input.cloneNode(false);
    if (copy.name === "action") copy.value = "remove_tag";
    if (copy.name === "tag") copy.value = name;
    form.appendChild(copy);
  }
  if (!form.querySelector('input[name="tag"]')) {
    const tag = document.createElement("input");
    tag.type = "hidden"; tag.name = "tag"; tag.value = name;
    form.appendChild(tag);
  }
  form.className = "curate-form tag-form";
  form.removeAttribute("id");
  const chip = document.createElement("span");
  chip.className = "chip";
  const link = document.createElement("a");
  link.href = "/?tag=" + encodeURIComponent(name);
  link.textContent = name;
  const remove = document.createElement("button");
  remove.type = "submit";
  remove.className = "chip-remove";
  remove.textContent = "×";
  remove.title = "Remove the tag " + name;
  remove.setAttribute("aria-label", remove.title);
  chip.append(link, " ", remove);
  form.appendChild(chip);
  form.addEventListener("submit", submit);
  return form;
}

function updateTags(data) {
  const box = document.getElementById("tags");
  const adder = document.getElementById("add-tag-form");
  if (!box || !adder || !Array.isArray(data.tags)) return;
  for (const old of box.querySelectorAll(".tag-form, #no-tags")) old.remove();
  for (const name of data.tags) box.insertBefore(tagChip(name, adder), adder);
  if (!data.tags.length) {
    const none = document.createElement("span");
    none.id = "no-tags"; none.className = "meta"; none.textContent = "No tags.";
    box.insertBefore(none, adder);
  }
  const input = document.getElementById("add-tag-input");
  if (input) input.value = "";
}

function updateNotes(data) {
  const rendered = document.getElementById("notes-rendered");
  if (!rendered || typeof data.notes_html !== "string") return;
  if (data.notes_html) {
    rendered.innerHTML = data.notes_html; // server-rendered: escaped first, a fixed set of tags, safe links only
  } else {
    rendered.textContent = "";
    const none = document.createElement("p");
    none.className = "meta"; none.textContent = "No notes yet.";
    rendered.appendChild(none);
  }
  const input = document.getElementById("notes-input");
  if (input) input.value = data.notes;
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    // getAttribute: the hidden input named "action" shadows form.action
    const r = await fetch(form.getAttribute("action"), { method: "POST", body: new FormData(form), credentials: "same-origin",
                                         headers: { Accept: "application/json" } });
    const data = await r.json().catch(() => ({ error: `the server answered ${r.status}` }));
    if (!r.ok) {
      const detail = data.errors ? Object.values(data.errors).join("; ") : "";
      message(form, (data.error || `the server answered ${r.status}`) + (detail ? ": " + detail : ""));
      return;
    }
    message(form, "");
    updateFlags(data.id, data);
    updateTags(data);
    updateNotes(data);
    document.dispatchEvent(new CustomEvent("nasboard:curated", { detail: data }));
  } catch (err) {
    message(form, `Not saved: ${err.message}`);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

for (const form of document.querySelectorAll("form.curate-form")) form.addEventListener("submit", submit);
