"""Cell drawings in headless Chromium (static/js/cellgraph.js, imported as a module by the page): every published
genotype and random cells of every space family laid out and drawn with no label on another label or on a node
(by the layout's boxes and by the drawn SVG's own), inputs left of the intermediate nodes left of the output,
``none`` edges left out, the legend listing exactly the ops drawn, a phone's width respected; and the SVG, PNG and
Copy controls producing a valid SVG, a PNG and the Genotype line."""
from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import torch

from nascore.spaces import SPACES, get_space
from tests.webapp.browser_support import log_in
from tests.webapp.compare_data import make_run
from webapp.experiments.presenters.spaces import cell_shapes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [str(ROOT / "nascore/spaces/examples/fabric.yaml"), str(ROOT / "nascore/spaces/examples/hierarchical.yaml"),
             str(ROOT / "tests/nascore/spaces/ladder.yaml"), str(ROOT / "tests/nascore/spaces/fork.yaml")]


def _genotype_cases(space_name: str, genotype: Any, label: str) -> list[dict[str, Any]]:
    shapes = cell_shapes(space_name)
    types = ["cell"] if isinstance(genotype, str) else [k for k, v in genotype.items()
                                                       if not k.endswith("_concat") and isinstance(v, list)]
    return [{"name": f"{label} {ct}", "genotype": genotype, "cellType": ct, "shape": shapes.get(ct)} for ct in types]


def _cases() -> list[dict[str, Any]]:
    rng = random.Random(17)
    gen = torch.Generator().manual_seed(17)
    cases: list[dict[str, Any]] = []
    for name in ("darts", "nb201"):  # every published genotype
        for pub, genotype in SPACES[name].published.items():
            cases += _genotype_cases(name, genotype, pub)
    for name in ("darts", "s1", "s2", "s3", "s4", "nb201", *DOCUMENTS):  # what each space's samplers draw
        space = get_space(name)
        for i in range(3):
            cases += _genotype_cases(name, space.genotype_of_path(space.sample_architecture(gen)), f"{name} #{i}")
    nb201_ops = list(SPACES["nb201"].ops)
    for i in range(6):  # NB-201 strings with none edges in them
        groups = ["|" + "|".join(f"{rng.choice(nb201_ops)}~{src}" for src in range(dst)) + "|" for dst in range(1, 4)]
        cases.append({"name": f"nb201 string #{i}", "genotype": "+".join(groups), "cellType": "cell", "shape": None})
    for i in range(4):  # DARTS pairs with none in them
        ops = list(SPACES["darts"].ops)
        normal = [[rng.choice(ops), rng.randrange(node)] for node in range(2, 6) for _ in range(2)]
        cases.append({"name": f"pairs with none #{i}", "genotype": {"normal": normal, "normal_concat": [2, 3, 4, 5]},
                      "cellType": "normal", "shape": None})
    for name in ("darts", "nb201", DOCUMENTS[2]):  # the cell a search would pick before its first genotype
        space = get_space(name)
        for ct in space.cell_types:
            edges = [f"{src}→{dst}" for src, dst in space.edges(ct)]
            for i in range(2):
                weights = [[rng.random() for _ in space.ops] for _ in edges]
                cases.append({"name": f"{name} weights {ct} #{i}", "weights": {"edges": edges, "ops": list(space.ops),
                                                                               "weights": weights}})
    return cases


CHECK = """async ([cases, width]) => {
  const cells = await import('/static/js/cellgraph.js');
  const hit = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  const pairs = (boxes) => { const out = []; boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b) => { if (hit(a, b)) out.push([a, b]); })); return out; };
  const problems = [];
  const host = document.createElement('div');
  host.style.width = width + 'px';
  document.body.appendChild(host);
  for (const c of cases) {
    const graph = c.weights ? cells.fromWeights(c.weights) : cells.fromGenotype(c.genotype, c.cellType, c.shape);
    if (!graph) { problems.push(`${c.name}: no graph`); continue; }
    const say = (what) => problems.push(`${c.name} (${width}px): ${what}`);
    const ops = new Set(graph.edges.map((e) => e.op).filter(Boolean));
    if (ops.has('none')) say('a none edge is drawn');
    const g = cells.layout(graph);
    if (pairs(g.labels).length) say(`labels overlap in the layout: ${JSON.stringify(pairs(g.labels)[0])}`);
    for (const l of g.labels) for (const n of g.nodes) if (hit(l, n)) say(`label ${l.text} on node ${n.id} in the layout`);
    const xs = (kind) => g.nodes.filter((n) => n.kind === kind).map((n) => n.cx);
    if (Math.max(...xs('input')) >= Math.min(...xs('inner'), ...xs('output'))) say('an input is not left of the other nodes');
    if (xs('inner').length && Math.max(...xs('inner')) >= Math.min(...xs('output'))) say('an intermediate node is not left of the output');
    cells.render(host, graph, c.name);
    const svg = host.querySelector('svg.cell-graph');
    const box = (el) => { const b = el.getBBox(); return { x: b.x, y: b.y, width: b.width, height: b.height, id: el.dataset.op || el.dataset.id }; };
    const drawnLabels = [...svg.querySelectorAll('.edge-label-box')].map(box);
    const drawnNodes = [...svg.querySelectorAll('rect.node')].map(box);
    if (drawnNodes.length !== graph.nodes.length) say(`${drawnNodes.length} nodes drawn of ${graph.nodes.length}`);
    if (drawnLabels.length !== graph.edges.filter((e) => e.op).length) say('not every op edge has its label');
    if (pairs(drawnLabels).length) say(`drawn labels overlap: ${JSON.stringify(pairs(drawnLabels)[0])}`);
    for (const l of drawnLabels) for (const n of drawnNodes) if (hit(l, n)) say(`drawn label ${l.id} on node ${n.id}`);
    const legend = [...svg.querySelectorAll('.legend-item')].map((it) => it.dataset.op).sort();
    if (JSON.stringify(legend) !== JSON.stringify([...ops].sort())) say(`legend ${legend} for the ops ${[...ops].sort()}`);
    if (svg.querySelector('[data-op="none"]')) say('none drawn');
    const outer = host.getBoundingClientRect(), inner = svg.getBoundingClientRect();
    if (inner.left < outer.left - 0.5 || inner.right > outer.right + 0.5) say(`the drawing (${inner.width}px) leaves its ${outer.width}px box`);
  }
  host.remove();
  return problems;
}"""


def test_every_published_and_random_cell_is_drawn_without_overlaps(live_server: Any, page: Any) -> None:
    cases = _cases()
    assert len(cases) > 60 and sum("weights" in c for c in cases) >= 6
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.evaluate(CHECK, [cases, 600]) == []
    page.set_viewport_size({"width": 360, "height": 800})
    phone = cases[:11] + cases[11::5]  # the published cells and a sample of the others, at a phone's width
    assert len(phone) >= 10
    assert page.evaluate(CHECK, [phone, 340]) == []


def test_a_narrow_card_abbreviates_op_names_and_keeps_them_in_tooltips(live_server: Any, page: Any) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    drawn = page.evaluate("""async (genotype) => {
      const cells = await import('/static/js/cellgraph.js');
      const out = {};
      for (const width of [900, 340]) {
        const host = document.createElement('div');
        host.style.width = width + 'px';
        document.body.appendChild(host);
        cells.render(host, cells.fromGenotype(genotype, 'normal'), 'normal cell');
        const svg = host.querySelector('svg');
        out[width] = {compact: svg.dataset.compact, texts: [...svg.querySelectorAll('text.edge-label')].map((t) => t.textContent),
                      titles: [...svg.querySelectorAll('.edge-label-box > title')].map((t) => t.textContent),
                      font: parseFloat(getComputedStyle(svg.querySelector('text.edge-label')).fontSize) * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width};
      }
      return out;
    }""", SPACES["darts"].published["darts_v2"])
    wide, narrow = drawn["900"], drawn["340"]
    assert wide["compact"] == "0" and sorted(set(wide["texts"])) == ["dil_conv_3x3", "sep_conv_3x3", "skip_connect"]
    assert narrow["compact"] == "1" and sorted(set(narrow["texts"])) == ["dil3", "sep3", "skip"]
    assert narrow["titles"] == wide["titles"] == wide["texts"]
    assert narrow["font"] >= 8.5 and wide["font"] >= 11


def test_svg_and_png_downloads_and_the_copy_button(live_server: Any, page: Any, alice: Any) -> None:
    exp = make_run(alice, "v2", genotype=SPACES["darts"].published["darts_v2"])
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/experiments/{exp.pk}/")
    page.wait_for_selector("#cell-normal svg.cell-graph")
    card = page.locator("#cell-normal")
    with page.expect_download() as svg_download:
        card.get_by_role("button", name="SVG").click()
    assert svg_download.value.suggested_filename.endswith(".svg")
    root = ET.fromstring(Path(svg_download.value.path()).read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and float(root.get("width")) > 100
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if "edge-label" in (t.get("class") or "")]
    # before a genotype event the page draws the strongest op of each of the arch event's five edges
    assert labels == ["sep_conv_3x3"] * 5 and all("fill:" in (t.get("style") or "") for t in root.iter("{http://www.w3.org/2000/svg}text"))
    with page.expect_download() as png_download:
        card.get_by_role("button", name="PNG").click()
    png = Path(png_download.value.path()).read_bytes()
    assert png_download.value.suggested_filename.endswith(".png") and png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width == 2 * int(float(root.get("width")))  # rasterised at twice its size

    line = page.text_content("#result-genotype")
    assert line.startswith("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    copy = page.get_by_role("button", name="Copy the genotype")
    status = page.locator("#result-genotype ~ .copy-status")
    copy.click()
    page.wait_for_function("document.querySelector('#result-genotype ~ .copy-status').textContent === 'Copied'")
    assert status.is_visible() and page.evaluate("navigator.clipboard.readText()") == line
    # where the page may not write to the clipboard, the line is selected for Ctrl+C and the status says so
    page.evaluate("Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true})")
    copy.click()
    page.wait_for_function("document.querySelector('#result-genotype ~ .copy-status').dataset.outcome === 'selected'")
    assert status.text_content().startswith("Selected: press Ctrl+C")
    assert page.evaluate("String(window.getSelection())") == line
