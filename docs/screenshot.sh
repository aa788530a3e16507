#!/usr/bin/env bash
# Regenerate docs/report-shop.png: the HTML report of fixtures/shop in headless Chromium
# (Debian's package). Run from the repository root with dbowner installed: bash docs/screenshot.sh
set -euo pipefail
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dbowner report fixtures/shop -o "$work/shop.html"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$work/profile" \
  --window-size=1366,2050 --screenshot="$PWD/docs/report-shop.png" "file://$work/shop.html" 2>/dev/null
echo "wrote docs/report-shop.png"
