"""The HTML report in a real browser (Debian's headless Chromium): it loads with no console message
at all (the report has no script, so any message is an error: a blocked load, a parse problem),
its sections are in the DOM, nothing injected runs, and a screenshot comes out.

Chromium writes every console message to stderr as `...:CONSOLE:<line>] "<message>"` with
`--enable-logging=stderr --v=0`; the first test proves that this catches errors."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from dbowner.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "fixtures" / "shop"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed; .ci/run installs Debian's package "
                             "(as root: apt-get update && apt-get install -y chromium)")


def chromium(tmp_path: Path, page: Path, *args: str) -> tuple[str, list[str]]:
    """Run Chromium on a page with a fresh profile; return stdout and the console messages."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if re.search(r":CONSOLE(:\d+)?\]", line)]
    return proc.stdout, console


def test_console_capture_catches_errors_and_blocked_loads(tmp_path):
    """The control: a page that throws and one whose CSP blocks a load both show up."""
    thrower = tmp_path / "throws.html"
    thrower.write_text("<!DOCTYPE html><html><body><script>throw new Error('boom')</script></body></html>")
    _, console = chromium(tmp_path, thrower, "--dump-dom")
    assert any("Uncaught Error: boom" in line for line in console), console
    loader = tmp_path / "loads.html"
    loader.write_text("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                      "content=\"default-src 'none'\"></head><body><img src=\"https://example.invalid/a.png\">"
                      "</body></html>")
    _, console = chromium(tmp_path, loader, "--dump-dom")
    assert any("violates the following Content Security Policy" in line for line in console), console


@pytest.fixture(scope="module")
def shop_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "shop.html"
    assert CliRunner().invoke(main, ["report", str(SHOP), "-o", str(out)]).exit_code == 0
    return out


def test_shop_report_loads_cleanly_with_every_section(shop_report, tmp_path):
    dom, console = chromium(tmp_path, shop_report, "--dump-dom")
    assert console == []
    for section in ("summary", "matrix", "diagram", "hotspots", "sagas", "findings"):
        assert f'<section id="{section}">' in dom
    assert re.findall(r"<h2>([^<]+)</h2>", dom) == ["1. Summary", "2. Ownership matrix", "3. Diagram",
                                                    "4. Hotspots", "5. Sagas", "6. Findings"]
    assert dom.count("<path d=\"M") >= 5 and "<script" not in dom


def test_shop_report_screenshot(shop_report, tmp_path):
    shot = tmp_path / "shop.png"
    _, console = chromium(tmp_path, shop_report, "--window-size=1366,2400", f"--screenshot={shot}",
                          "--hide-scrollbars")
    assert console == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1366, 2400)
    assert len(data) > 60_000        # a blank page compresses to a few kB; this one has content


def test_hostile_names_do_not_execute(make_repo, tmp_path):
    root = make_repo({
        "dbowner.yaml": "version: 1\nservices:\n  app:\n    paths: ['app/**']\n",
        "app/<img src=x onerror=alert(1)>.sql":
            "SELECT * FROM \"</style><script>console.error('pwned')</script>\";\n"
            "SELECT * FROM \"<img src=y onerror=console.error('pwned2')>\";\n",
    })
    out = tmp_path / "h.html"
    assert CliRunner().invoke(main, ["report", str(root), "-o", str(out)]).exit_code == 0
    dom, console = chromium(tmp_path, out, "--dump-dom")
    assert console == []
    assert "<script" not in dom and "<img" not in dom
    assert "&lt;/style&gt;&lt;script&gt;console.error('pwned')&lt;/script&gt;" in dom
