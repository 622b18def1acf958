#!/usr/bin/env bash
# Rebuilds plotly-scatter-heatmap.min.js from plotly.js's npm sources (needs node and the npm registry; the built
# file is committed, so neither `make run` nor `make test` runs this). PLOTLY_JS must be the plotly.js release of
# the plotly Python package in requirements.txt (tests/test_vendored_assets.py checks the banner).
set -euo pipefail
PLOTLY_JS=${PLOTLY_JS:-4.1.1}
ESBUILD=${ESBUILD:-0.28.2}
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/entry.js" "$work/"
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts "plotly.js@$PLOTLY_JS" "esbuild@$ESBUILD" >/dev/null
# `global` is Node's name for the page's window (plotly.js's has-hover reads global.matchMedia)
npx esbuild entry.js --bundle --minify --format=iife --global-name=Plotly --define:global=window \
  --banner:js="/*! plotly.js (scatter, heatmap - minified) v$PLOTLY_JS, built by static/vendor/plotly-scatter-heatmap/build.sh with esbuild $ESBUILD. Copyright 2012-2026, Plotly, Inc. Licensed under the MIT license (LICENSE) */" \
  --outfile=out/plotly-scatter-heatmap.min.js --log-level=warning
cp out/plotly-scatter-heatmap.min.js "$here/"
cp node_modules/plotly.js/LICENSE "$here/LICENSE"
echo "wrote $here/plotly-scatter-heatmap.min.js ($(wc -c < "$here/plotly-scatter-heatmap.min.js") bytes)"
