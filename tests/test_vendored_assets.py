"""Front-end libraries served from static/ (no CDN): the live and comparison pages load plotly.js's cartesian bundle
(a third of the full bundle's bytes, so the page parses it faster), the study page the full bundle that the plotly
package ships (Optuna's parallel-coordinates plot needs it); both must be the same plotly.js release."""
from __future__ import annotations

import re
from pathlib import Path

import plotly

ROOT = Path(__file__).resolve().parents[1]
CARTESIAN = ROOT / "static" / "vendor" / "plotly-cartesian" / "plotly-cartesian.min.js"
FULL = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
VERSION = re.compile(r"plotly\.js(?: \(cartesian - minified\))? v(\d+\.\d+\.\d+)")


def _version(path: Path) -> str:
    head = path.read_text(encoding="utf-8")[:300]
    found = VERSION.search(head)
    assert found, f"no plotly.js version in the header of {path}"
    return found.group(1)


def test_the_cartesian_bundle_is_the_plotly_packages_release() -> None:
    assert _version(CARTESIAN) == _version(FULL)
    assert (CARTESIAN.parent / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert CARTESIAN.stat().st_size < FULL.stat().st_size / 2


def test_each_page_loads_the_bundle_its_traces_need() -> None:
    templates = ROOT / "templates" / "experiments"
    for name in ("detail.html", "compare.html"):
        assert "vendor/plotly-cartesian/plotly-cartesian.min.js" in (templates / name).read_text(encoding="utf-8")
    assert "vendor/plotly.min.js" in (templates / "study.html").read_text(encoding="utf-8")
