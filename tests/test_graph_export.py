"""`dbowner graph`: the ownership graph in json (networkx node-link), graphml, dot and mermaid."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
from click.testing import CliRunner

from dbowner.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "fixtures" / "shop"


def graph(*args: str) -> str:
    result = CliRunner().invoke(main, ["graph", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_is_networkx_node_link_with_evidence_on_edges():
    data = json.loads(graph(str(SHOP), "--format", "json"))
    g = nx.node_link_graph(data, edges="edges")
    assert isinstance(g, nx.MultiDiGraph)
    assert data["graph"]["format"] == "dbowner-graph"
    assert g.nodes["table:shop_db/inventory.stock"] == {"type": "table", "name": "inventory.stock",
                                                          "database": "shop_db", "owner": "inventory"}
    writes = [d for _, _, d in g.edges("service:orders", data=True)
              if d["kind"] == "write" and d["path"] == "services/orders/app/checkout.py" and d["line"] == 41]
    assert len(writes) == 1
    w = writes[0]
    assert w["cross_service"] is True and w["action"] == "update" and w["end_line"] == 46
    assert w["rules"] == ["cross-service-write"]
    assert w["statement"].startswith("UPDATE inventory.stock")
    own = [d for _, v, d in g.edges("service:orders", data=True) if v == "table:orders_db/orders" and d["kind"] == "write"]
    assert own and not any(d["cross_service"] for d in own) and all(d["rules"] == [] for d in own)
    fk = [d for _, v, d in g.edges("table:orders_db/order_items", data=True) if v == "table:shop_db/inventory.products"]
    assert fk[0]["kind"] == "references" and fk[0]["cross_service"] and fk[0]["rules"] == ["cross-service-foreign-key"]
    assert graph(str(SHOP), "--format", "json") == json.dumps(data, indent=2, ensure_ascii=False) + "\n"   # stable


def test_graphml_round_trips_through_networkx():
    g = nx.read_graphml(io.BytesIO(graph(str(SHOP), "--format", "graphml").encode()), force_multigraph=True)
    j = nx.node_link_graph(json.loads(graph(str(SHOP), "--format", "json")), edges="edges")
    assert g.number_of_nodes() == j.number_of_nodes() and g.number_of_edges() == j.number_of_edges()
    assert g.nodes["table:users_db/login_audit"]["owner"] == ""        # no owner: GraphML has no null
    cross = [d for _, _, d in g.edges(data=True) if d.get("rules") == "cross-service-write"]
    assert len(cross) == 1 and cross[0]["cross_service"] is True


def test_dot_clusters_tables_under_owners_and_colours_cross_edges():
    dot = graph(str(SHOP), "--format", "dot")
    assert dot.startswith("digraph dbowner {") and dot.rstrip().endswith("}")
    cluster = dot[dot.index('label="inventory"'):]
    cluster = cluster[:cluster.index("  }")]
    assert '"table:shop_db/inventory.stock" [label="inventory.stock"' in cluster
    assert ('"service:orders" -> "table:shop_db/inventory.stock" [label="write", color="#c62828", '
            'tooltip="cross-service-write", penwidth=2];') in dot
    assert '"service:orders" -> "table:orders_db/orders" [label="ddl x2, read, write x5", color="#9e9e9e"];' in dot
    if shutil.which("dot"):       # Graphviz, when installed, must accept it
        subprocess.run(["dot", "-Tsvg"], input=dot, text=True, check=True, capture_output=True)


def test_mermaid_flowchart():
    text = graph(str(SHOP), "--format", "mermaid")
    assert text.startswith("flowchart LR\n")
    assert re.search(r'subgraph c\d+\["inventory"\]', text)
    assert re.search(r'n\d+ -->\|"write"\| n\d+', text)
    assert "stroke:#c62828" in text


def test_hostile_names_cannot_break_out_of_dot_or_mermaid(make_repo):
    root = make_repo({
        "dbowner.yaml": "version: 1\nservices:\n  app:\n    paths: ['app/**']\n",
        "app/q.sql": 'SELECT * FROM "x""; digraph evil {";\nSELECT * FROM "back\\slash";\n'
                     'SELECT * FROM "y]) --> z((";\n',
    })
    dot = graph(str(root), "--format", "dot")
    assert '[label="x\\"; digraph evil {"' in dot and '[label="back\\\\slash"' in dot
    assert [line for line in dot.splitlines() if "digraph" in line.split('"')[0]] == ["digraph dbowner {"]
    if shutil.which("dot"):     # Graphviz, when installed, reads the names back as they are
        svg = subprocess.run(["dot", "-Tsvg"], input=dot, text=True, check=True, capture_output=True).stdout
        assert "x&quot;; digraph evil {" in svg and "back\\slash" in svg
    mermaid = graph(str(root), "--format", "mermaid")
    labels = re.findall(r'"([^"]*)"', mermaid)
    assert "x#quot;; digraph evil {" in labels and "y]) --#gt; z((" in labels


def test_graph_writes_to_a_file(tmp_path):
    out = tmp_path / "g.dot"
    assert graph(str(SHOP), "--format", "dot", "-o", str(out)) == ""
    assert out.read_text("utf-8").startswith("digraph dbowner {")


def test_every_format_is_the_same_whatever_the_hash_seed():
    """Sets and dicts must not leak their order into the output: two interpreters, two seeds."""
    code = ("import sys; from pathlib import Path; from dbowner.analysis import analyze; "
            "from dbowner.manifest import load_manifest; from dbowner.output.graph_export import export_graph; "
            "a = analyze(load_manifest(Path(sys.argv[1]))); "
            "print(''.join(export_graph(a, f) for f in ('json', 'graphml', 'dot', 'mermaid')))")
    outs = [subprocess.run([sys.executable, "-c", code, str(SHOP / "dbowner.yaml")], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout for seed in ("1", "2")]
    assert outs[0] == outs[1] and len(outs[0]) > 10_000
