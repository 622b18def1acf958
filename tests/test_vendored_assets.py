"""Front-end libraries served from static/ (no CDN): the live and comparison pages load our build of plotly.js with
only the traces they draw (scatter and heatmap: static/vendor/plotly-scatter-heatmap/, built by its build.sh), the
study page the full bundle that the plotly package ships (Optuna's parallel-coordinates plot needs it); both must
be the same plotly.js release. The browser tests check that every trace the pages draw is one the build registers."""
from __future__ import annotations

import re
from pathlib import Path

import plotly

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "static" / "vendor" / "plotly-scatter-heatmap"
BUNDLE = BUILD / "plotly-scatter-heatmap.min.js"
FULL = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
VERSION = re.compile(r"plotly\.js(?: \([a-z, ]+ - minified\))? v(\d+\.\d+\.\d+)")


def _version(path: Path) -> str:
    head = path.read_text(encoding="utf-8")[:300]
    found = VERSION.search(head)
    assert found, f"no plotly.js version in the header of {path}"
    return found.group(1)


def test_our_build_is_the_plotly_packages_release_with_only_the_traces_the_pages_draw() -> None:
    assert _version(BUNDLE) == _version(FULL)
    assert f"PLOTLY_JS=${{PLOTLY_JS:-{_version(FULL)}}}" in (BUILD / "build.sh").read_text(encoding="utf-8")
    assert (BUILD / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    registered = re.findall(r'require\("plotly\.js/lib/(\w+)"\)', (BUILD / "entry.js").read_text(encoding="utf-8"))
    assert registered == ["core", "scatter", "heatmap"]
    assert BUNDLE.stat().st_size < FULL.stat().st_size / 4


def test_each_page_loads_the_bundle_its_traces_need() -> None:
    templates = ROOT / "templates" / "experiments"
    for name in ("detail.html", "compare.html"):
        text = (templates / name).read_text(encoding="utf-8")
        assert "vendor/plotly-scatter-heatmap/plotly-scatter-heatmap.min.js" in text and "vendor/plotly.min.js" not in text
    assert "vendor/plotly.min.js" in (templates / "study.html").read_text(encoding="utf-8")
