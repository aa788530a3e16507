"""`dbowner report`: what a review board reads. Content of the HTML and Markdown reports on the
shop fixture, escaping of hostile names, the saga and suppression interfaces, and big estates."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from dbowner.analysis import analyze
from dbowner.cli import main
from dbowner.manifest import load_manifest
from dbowner.model import Finding, Severity
from dbowner.output.report import render_report
from dbowner.output.report.content import build_report
from dbowner.output.report.diagram import MAX_CARDS, layout

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "fixtures" / "shop"
SECTIONS = ["summary", "matrix", "diagram", "hotspots", "sagas", "findings"]


@dataclass
class Page(HTMLParser):
    """Every element with its attributes, and the text, as a browser's parser sees them."""

    elements: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.elements if "id" in a}

    def with_class(self, tag: str, cls: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and cls in a.get("class", "").split()]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def assert_inert(page: Page) -> None:
    """No script, no event handler, nothing loaded from anywhere: the file is self-contained."""
    tags = [t for t, _ in page.elements]
    assert "script" not in tags and "iframe" not in tags and "object" not in tags and "img" not in tags
    assert tags.count("style") == 1
    for tag, attrs in page.elements:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        assert "src" not in attrs
        if "href" in attrs:
            assert attrs["href"].startswith("#"), attrs
        for value in attrs.values():
            assert "javascript:" not in value.lower()
            assert "url(" not in value or re.fullmatch(r"url\(#arrow-\d+\)", value), value


@pytest.fixture(scope="module")
def shop_html(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("report") / "shop.html"
    result = CliRunner().invoke(main, ["report", str(SHOP), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"dbowner: wrote {out} (11 finding(s), 9 error(s))\n"
    return out.read_text("utf-8")


def test_html_report_has_every_section_and_loads_nothing(shop_html):
    page = parse(shop_html)
    assert set(SECTIONS) <= page.ids()
    assert_inert(page)
    assert "default-src 'none'" in shop_html      # and the browser would refuse any load anyway
    headings = [t.strip() for t in page.text if re.match(r"\s*\d\. ", t)]
    assert headings[-6:] == ["1. Summary", "2. Ownership matrix", "3. Diagram", "4. Hotspots", "5. Sagas",
                             "6. Findings"]


def test_summary_counts_and_verdict(shop_html):
    page = parse(shop_html)
    text = page.all_text
    assert "Fails: 9 error(s) and 2 warning(s) break data ownership across 5 service(s)." in text
    stats = re.findall(r'<div class="stat[^"]*"><b>(\d+)</b><span>([^<]+)</span>', shop_html)
    assert dict((label, int(n)) for n, label in stats) == {
        "services": 5, "tables (16 owned)": 17, "files analysed": 17, "errors": 9, "warnings": 2,
        "baselined": 0, "suppressed": 0, "diagnostics": 0}
    rows = re.findall(r'<tr><td><a href="#rule-(DBO\d+)">\1</a></td><td>([a-z-]+)</td>.*?<td class="num">(\d+)</td>',
                      shop_html)
    assert ("DBO101", "cross-service-read", "2") in rows and len(rows) == 10


def test_matrix_marks_owner_access_and_violations(shop_html):
    cells = re.findall(r'<td class="cell([^"]*)"(?: title="([^"]*)")?>([A-Z]*)</td>', shop_html)
    by_title = {title: (cls.strip(), letters) for cls, title, letters in cells if title}
    assert by_title["orders: write inventory.stock"] == ("error", "W")
    assert by_title["inventory: owns, write, ddl inventory.stock"] == ("own", "OWD")
    assert by_title["reporting: read order_events"] == ("acc", "R")          # declared read: no finding
    assert by_title["users: ddl login_audit"] == ("warning", "D")              # unowned table
    groups = re.findall(r'<tr class="group"><th colspan="6">([^<]+)</th>', shop_html)
    assert groups == ["users · 2 table(s)", "orders · 5 table(s)", "inventory · 4 table(s)",
                      "payments · 2 table(s)", "reporting · 3 table(s)", "(no owner in the manifest) · 1 table(s)"]


def test_diagram_is_an_inline_svg_with_rule_coloured_edges(shop_html):
    svg = shop_html[shop_html.index("<svg"):shop_html.index("</svg>")]
    edges = re.findall(r'<path d="M[^"]+" stroke="(#[0-9a-f]{6})"[^>]*><title>([^<]+)</title>', svg)
    titles = {t.replace("&#39;", "'"): colour for colour, t in edges}
    assert titles["orders write on inventory.stock (owned by inventory): cross-service-write, "
                  "cross-service-transaction; 1 statement(s)"] == "#c62828"
    assert titles["reporting read on customers (owned by users): cross-service-join, cross-service-read; "
                  "1 statement(s)"] == "#6a1b9a"
    assert titles["reporting read on order_events (owned by orders): declared in reads, no finding; "
                  "1 statement(s)"] == "#78909c"
    assert titles["order_items foreign key to inventory.products (owned by inventory): cross-service-foreign-key; "
                  "1 statement(s)"] == "#6d4c41"
    cards = re.findall(r'<text x="[\d.]+" y="[\d.]+" font-weight="600" font-size="13" fill="[^"]+">([^<]+)</text>', svg)
    assert sorted(cards) == ["(no owner)", "inventory", "orders", "payments", "reporting", "users"]


def test_hotspots_and_coupling(shop_html):
    hot = shop_html[shop_html.index('id="hot-tables"'):shop_html.index('id="hot-services"')]
    assert re.findall(r"<tr><td>([a-z_.]+) <small", hot) == ["customers", "inventory.stock", "order_events"]
    coupling = shop_html[shop_html.index('id="coupling"'):shop_html.index('id="sagas"')]
    assert ("<tr><td>orders</td><td>customers</td><td>inventory.stock</td><td>reporting</td></tr>" in coupling)
    assert "<tr><td>users</td><td>–</td><td>–</td><td>orders, reporting</td></tr>" in coupling


def test_findings_grouped_by_rule_with_location_excerpt_and_hint(shop_html):
    page = parse(shop_html)
    rules = [a["id"] for t, a in page.elements if t == "div" and a.get("class") == "rule"]
    assert rules[0] == "rule-DBO001" and rules[-2:] == ["rule-DBO002", "rule-DBO105"]   # errors first
    block = shop_html[shop_html.index('id="rule-DBO102"'):shop_html.index('id="rule-DBO103"')]
    assert "<b>Fix:</b> Let the owner make the change." in block
    assert "<code>services/orders/app/checkout.py:41</code>" in block
    assert "orders writes inventory.stock (UPDATE), a table owned by inventory" in block
    excerpt = re.sub(r"<[^>]+>", "", block[block.index('<pre class="excerpt">'):block.index("</pre>")])
    assert excerpt.splitlines()[0] == "   41 │ UPDATE inventory.stock"            # dedented source line
    assert "SET quantity = quantity - $1" in excerpt


def test_the_shop_saga_is_shown_with_its_steps_and_passing_checks(shop_html):
    sagas = shop_html[shop_html.index('id="sagas"'):shop_html.index('id="findings"')]
    assert '<div class="saga pass">' in sagas and "<h3>run_order_payment</h3>" in sagas
    assert "saga-missing-compensation: pass" in sagas and "No sagas found." not in sagas


def test_a_repository_without_sagas_says_so(make_repo):
    root = make_repo({"dbowner.yaml": "version: 1\nservices:\n  orders:\n    paths: ['app/**']\n",
                      "app/q.py": "def f(cur):\n    cur.execute('SELECT 1 FROM orders')\n"})
    assert "No sagas found." in render_report(analyze(load_manifest(root / "dbowner.yaml")), "md")


def test_markdown_report_has_the_same_content(tmp_path):
    out = tmp_path / "shop.md"
    assert CliRunner().invoke(main, ["report", str(SHOP), "-o", str(out)]).exit_code == 0
    md = out.read_text("utf-8")
    for heading in ("## 1. Summary", "## 2. Ownership matrix", "## 3. Diagram", "## 4. Hotspots", "## 5. Sagas",
                    "## 6. Findings"):
        assert f"\n{heading}\n" in md
    assert "**Fails: 9 error(s) and 2 warning(s) break data ownership across 5 service(s).**" in md
    assert "| inventory | inventory.stock (shop\\_db) |  | ⛔ W | OWD |  |  |" in md
    mermaid = md[md.index("```mermaid\n"):md.index("\n```", md.index("```mermaid\n"))]
    assert 's1 -->|"write"| t4' in mermaid and "linkStyle 1 stroke:#c62828" in mermaid
    assert "### DBO102 cross-service-write (error) · 1 finding(s)" in md
    assert "**services/orders/app/checkout.py:41** · service orders · table inventory.stock" in md
    assert ">   41 | UPDATE inventory.stock" in md
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<table>" in html and "<h3>DBO102 cross-service-write (error) · 1 finding(s)</h3>" in html


HOSTILE_MANIFEST = """
version: 1
services:
  owner:
    paths: ["owner/**"]
    tables: ["</style><script>alert('own')</script>", "a\\"b'c"]
  app:
    paths: ["app/**"]
"""
HOSTILE_SQL = """
UPDATE "</style><script>alert('own')</script>" SET x = 1;
SELECT * FROM "a""b'c";
CREATE TABLE "<img src=x onerror=alert(2)>" (id int);
"""
HOSTILE_NAMES = ["</style><script>alert('own')</script>", "a\"b'c", "<img src=x onerror=alert(2)>",
                 "app/<svg onload=alert(1)>.sql"]


@pytest.fixture
def hostile(make_repo, tmp_path) -> Path:
    """Names taken from the analysed code that try to become markup; the service name comes via a
    facts file, the only way to bring one that dbowner.yaml's schema would refuse."""
    root = make_repo({"repo/dbowner.yaml": HOSTILE_MANIFEST, "repo/app/<svg onload=alert(1)>.sql": HOSTILE_SQL,
                      "repo/owner/001.sql": "SELECT 1;\n"})
    facts = tmp_path / "facts.json"
    assert CliRunner().invoke(main, ["facts", str(root / "repo"), "-o", str(facts)]).exit_code == 0
    text = facts.read_text("utf-8").replace('"app"', json.dumps('app"><script>alert(3)</script>'))
    facts.write_text(text, "utf-8")
    return facts


def test_hostile_names_are_text_in_html(hostile, tmp_path):
    out = tmp_path / "h.html"
    title = '<script>alert("title")</script>'
    result = CliRunner().invoke(main, ["report", str(hostile), "-o", str(out), "--title", title])
    assert result.exit_code == 0, result.output
    html = out.read_text("utf-8")
    page = parse(html)
    assert_inert(page)
    text = page.all_text
    for name in HOSTILE_NAMES + ['app"><script>alert(3)</script>', title]:
        assert name in text, name                  # shown, as text
    assert "<script" not in html and "<img" not in html and "<svg onload" not in html


def test_hostile_names_are_text_in_markdown(hostile, tmp_path):
    out = tmp_path / "h.md"
    assert CliRunner().invoke(main, ["report", str(hostile), "-o", str(out)]).exit_code == 0
    md = out.read_text("utf-8")
    fences = re.findall(r"^(`{3,})", md, flags=re.M)
    assert len(fences) % 2 == 0                       # every code block is closed where it should be
    mermaid = md[md.index("```mermaid\n") + 11:md.index("\n```", md.index("```mermaid\n"))]
    for line in mermaid.splitlines():                  # labels hold no raw quote, bracket or angle
        for label in re.findall(r'"([^"]*)"', line):
            assert not set(label) & set("<>`")
    html = MarkdownIt("commonmark").enable("table").render(md)
    page = parse(html)
    tags = {t for t, _ in page.elements}
    assert not tags & {"script", "img", "svg", "style", "iframe"}
    assert not [a for _, a in page.elements if any(k.startswith("on") for k in a)]
    for name in HOSTILE_NAMES + ['app"><script>alert(3)</script>']:
        assert name in page.all_text, name


class Saga:
    """An assembled saga as the saga analysis provides it (attributes; dicts work too)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_sagas_from_the_analysis_with_steps_pivot_and_verdicts():
    analysis = analyze(load_manifest(SHOP / "dbowner.yaml"))
    analysis.sagas = [
        Saga(name="order_payment", service="orders", path="services/orders/app/saga.py", line=24, steps=[
            {"name": "create_order", "service": "orders", "compensation": "reject_order", "kind": "compensatable"},
            {"name": "debit_account", "service": "payments", "compensation": None, "pivot": True},
            {"name": "approve_order", "service": "orders", "kind": "retriable"}],
            verdicts=[Finding("DBO401", "saga-missing-compensation", Severity.ERROR, "services/orders/app/saga.py",
                              30, 30, "step reserve_stock has no compensation", "add one")]),
        {"name": "<b>odd</b>", "steps": [], "verdicts": ["looks fine"]},
    ]
    report = build_report(analysis)
    first = report.sagas[0]
    assert (first.name, first.service, first.location, first.pivot) == (
        "order_payment", "orders", "services/orders/app/saga.py:24", "debit_account")
    assert [(s.number, s.action, s.compensation, s.pivot) for s in first.steps] == [
        (1, "create_order", "reject_order", False), (2, "debit_account", "", True), (3, "approve_order", "", False)]
    assert first.verdicts == [("error", "saga-missing-compensation: step reserve_stock has no compensation")]
    assert first.verdict_class == "fail"
    html = render_report(analysis, "html")
    sagas = html[html.index('id="sagas"'):html.index('id="findings"')]
    assert "pivot: debit_account" in sagas and "<code>reject_order</code>" in sagas
    assert "saga-missing-compensation: step reserve_stock has no compensation" in sagas
    assert "&lt;b&gt;odd&lt;/b&gt;" in sagas and "looks fine" in sagas
    md = render_report(analysis, "md")
    assert "| 2 | debit\\_account | payments | – | pivot |" in md
    analysis.sagas = []
    assert "No sagas found." in render_report(analysis, "md")


def test_sagas_declared_in_the_manifest_are_assessed_with_their_steps(make_repo):
    root = make_repo({
        "dbowner.yaml": "version: 1\nservices:\n  orders:\n    paths: ['app/**']\n"
                        "sagas:\n  checkout:\n    steps:\n"
                        "      - {action: 'app/s.py:reserve', compensation: 'app/s.py:release'}\n"
                        "      - {action: 'app/s.py:charge', pivot: true}\n",
        "app/s.py": "def reserve(): pass\n",
    })
    report = build_report(analyze(load_manifest(root / "dbowner.yaml")))
    (saga,) = report.sagas
    assert saga.location == "dbowner.yaml:6" and saga.pivot == "charge" and saga.assessed
    assert saga.steps[0].compensation == "release" and [s.kind for s in saga.steps] == ["compensatable", "pivot"]


def test_suppressed_and_baselined_counts_come_from_the_analysis():
    analysis = analyze(load_manifest(SHOP / "dbowner.yaml"))
    analysis.suppressed = analysis.findings[:2]
    analysis.baselined = 3
    counts = build_report(analysis).counts
    assert (counts["suppressed"], counts["baselined"]) == (2, 3)
    assert "| 5 | 17 (16 owned) | 17 | 9 | 2 | 3 | 2 | 0 |" in render_report(analysis, "md")


def big_estate(make_repo, services: int, tables_each: int) -> Path:
    """services × tables_each tables; service i reads a table of i+1 and writes one of i+7."""
    files = {"dbowner.yaml": "version: 1\nservices:\n" + "".join(
        f"  svc{i:02d}:\n    paths: ['s{i}/**']\n    database: db{i}\n"
        f"    tables: [{', '.join(f's{i}_t{k}' for k in range(tables_each))}]\n" for i in range(services))}
    for i in range(services):
        files[f"s{i}/q.sql"] = (f"SELECT * FROM s{(i + 1) % services}_t1;\nUPDATE s{(i + 7) % services}_t2 SET x = 1;\n"
                                + "".join(f"SELECT * FROM s{i}_t{k};\n" for k in range(tables_each)))
    return make_repo(files)


def test_thirty_services_and_three_hundred_tables_lay_out_without_overlap(make_repo):
    analysis = analyze(load_manifest(big_estate(make_repo, 30, 10) / "dbowner.yaml"))
    report = build_report(analysis)
    d = layout(report)
    assert len(d.cards) == 30 and len(d.edges) == 60           # every cross-service access is drawn
    assert d.width <= 1200                                       # fits a laptop screen
    boxes = [(c.x, c.y, c.x + c.w, c.y + c.h) for c in d.cards]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    for c in d.cards:
        assert all(c.y + 26 <= r.y and r.y + 18 <= c.y + c.h for r in c.rows)   # rows inside their card
    assert len(report.matrix_services) == 30 and sum(len(rows) for _, rows in report.matrix_groups) == 300


def test_huge_estates_keep_the_report_bounded(make_repo):
    analysis = analyze(load_manifest(big_estate(make_repo, 80, 6) / "dbowner.yaml"), rules=[])
    report = build_report(analysis)
    assert "480 tables and 80 services are too many for one matrix" in report.matrix_note
    assert len(report.matrix_services) <= 60
    d = layout(report)
    assert len(d.cards) == MAX_CARDS and "80 services: the diagram shows the 60 most coupled" in d.note


def test_report_format_comes_from_the_extension(tmp_path):
    result = CliRunner().invoke(main, ["report", str(SHOP), "-o", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2
    assert "cannot tell the report format from 'r.pdf'" in result.stderr
    assert not (tmp_path / "r.pdf").exists()
