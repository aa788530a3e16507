"""Generate a large synthetic service monorepo for the speed benchmark (never inside the repo).

    python bench/gen_monorepo.py OUT_DIR [--services 200] [--py-files 10000] [--sql-files 2000] [--seed 1]

The mix aims at a real service monorepo, not at dbowner's pre-filter:

- ~68% plain Python modules (handlers, services, schemas, utils, tests) without SQL. About one in
  five of them still uses a word the pre-filter looks for in an unrelated sense (an HTTP
  ``fetch``, ``request.query_params``, ``response.text(...)``, a payment "transaction"), so they are
  parsed anyway, as in real code;
- ~17% repositories passing SQL strings to asyncpg / psycopg / SQLAlchemy ``text()``, some in
  transaction blocks, about 2% of them reading another service's table (real findings);
- ~15% SQLAlchemy declarative or Django models;
- 10 SQL migrations per service (5 statements each).

Sizes vary per file (roughly 1-15 KB, ~5 KB on average for Python). The output is deterministic
for a given seed. Prints a one-line JSON summary (files, bytes) on stdout.
"""
from __future__ import annotations

import argparse
import json
import random
import textwrap
from pathlib import Path

NOUNS = ["order", "customer", "invoice", "payment", "shipment", "product", "cart", "refund",
         "account", "ledger", "coupon", "review", "address", "session", "subscription", "ticket",
         "warehouse", "parcel", "carrier", "quote", "contract", "device", "alert", "report"]
VERBS = ["load", "build", "apply", "compute", "render", "validate", "normalise", "merge", "resolve",
         "publish", "schedule", "check", "collect", "prepare", "convert", "score", "sync", "dispatch"]
ADJ = ["pending", "active", "archived", "stale", "primary", "default", "remote", "local", "cached"]
DOMAINS = ["orders", "billing", "catalog", "shipping", "identity", "search", "notify", "pricing",
           "loyalty", "support", "fraud", "audit", "inventory", "returns", "media", "tax"]


def ident(rng: random.Random, *parts: list[str]) -> str:
    return "_".join(rng.choice(p) for p in parts)


def camel(name: str) -> str:
    return "".join(w.capitalize() for w in name.split("_"))


# ----------------------------------------------------------------------------- plain code
def plain_function(rng: random.Random, incidental: str | None) -> str:
    name = ident(rng, VERBS, NOUNS) + ("_" + rng.choice(ADJ) if rng.random() < 0.4 else "")
    arg = rng.choice(NOUNS)
    lines = [f"def {name}({arg}: dict, *, limit: int = {rng.randint(5, 500)}, strict: bool = False) -> dict:",
             f'    """{camel(name).replace("_", " ")} for one {arg}.',
             "",
             f"    Returns a new mapping; the input {arg} is left untouched. Raises ValueError when",
             f"    strict is set and the {arg} misses a required field.",
             '    """']
    body = []
    for _ in range(rng.randint(2, 9)):
        k = rng.random()
        a, b = rng.choice(NOUNS), rng.choice(NOUNS)
        if k < 0.2:
            body += [f"if strict and \"{a}_id\" not in {arg}:",
                     f"    raise ValueError(f\"missing {a}_id in {{{arg}!r}}\")"]
        elif k < 0.4:
            body += [f"{a}_items = [x for x in {arg}.get(\"{b}s\", []) if x.get(\"state\") != \"{rng.choice(ADJ)}\"]",
                     f"total_{a} = sum(int(x.get(\"amount\", 0)) for x in {a}_items[:limit])"]
        elif k < 0.55:
            body += [f"for key, value in sorted({arg}.items()):",
                     "    if isinstance(value, str) and len(value) > limit:",
                     f"        log.debug(\"truncating %s of {a}\", key)",
                     "        result[key] = value[:limit]",
                     "    else:",
                     "        result[key] = value"]
        elif k < 0.7:
            body += [f"try:",
                     f"    {a}_score = float({arg}[\"{b}_score\"]) * {rng.randint(2, 9)} / {rng.randint(10, 99)}",
                     "except (KeyError, TypeError, ValueError):",
                     f"    {a}_score = 0.0",
                     f"result[\"{a}_score\"] = round({a}_score, {rng.randint(1, 4)})"]
        elif k < 0.85:
            body += [f"window = timedelta(minutes={rng.randint(1, 90)})",
                     f"if {arg}.get(\"updated_at\") and now() - {arg}[\"updated_at\"] > window:",
                     f"    result[\"{rng.choice(ADJ)}\"] = True"]
        else:
            body += [f"# {rng.choice(VERBS)} the {a} before the {b}: the upstream API returns them unsorted",
                     f"result.setdefault(\"{b}s\", []).extend(sorted({arg}.get(\"{a}s\", ()), key=str))"]
    if incidental:
        body += incidental.splitlines()
    lines += ["    result: dict = {}"] + ["    " + x for x in body] + ["    return result", ""]
    return "\n".join(lines)


INCIDENTAL = [
    "resp = http.fetch(f\"/api/{limit}\", timeout=5)\nresult[\"remote\"] = resp.json()",
    "params = request.query_params\nresult[\"page\"] = int(params.get(\"page\", 1))",
    "body = response.text()\nresult[\"preview\"] = body[:80]",
    "result[\"transaction_id\"] = str(uuid4())  # the payment provider's transaction",
    "raw = payload.get(\"raw\")\nresult[\"raw_size\"] = len(raw or b\"\")",
    "if stream.begin_marker:\n    result[\"begin\"] = stream.begin_marker",
]


def plain_class(rng: random.Random) -> str:
    name = camel(ident(rng, NOUNS, ["service", "handler", "builder", "client", "policy"]))
    fields = rng.sample(NOUNS, rng.randint(3, 7))
    lines = ["@dataclass", f"class {name}:", f'    """{name}: keeps the per-request state together."""', ""]
    lines += [f"    {f}_id: str = \"\"" for f in fields]
    lines += ["    retries: int = 3", "", "    def as_dict(self) -> dict:",
              "        return {" + ", ".join(f'"{f}_id": self.{f}_id' for f in fields) + "}", ""]
    for _ in range(rng.randint(1, 3)):
        m = ident(rng, VERBS, NOUNS)
        lines += [f"    def {m}(self, value: str) -> str:",
                  f"        if not value:",
                  f"            raise ValueError(\"{m}: empty value\")",
                  f"        self.retries -= 1",
                  f"        return value.strip().lower() + \"-\" + self.{fields[0]}_id", ""]
    return "\n".join(lines)


HEADER = '''"""{doc}"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from .clock import now
from .http import http

log = logging.getLogger(__name__)
'''


def plain_module(rng: random.Random, incidental: bool) -> str:
    parts = [HEADER.format(doc=f"{rng.choice(VERBS).capitalize()} {rng.choice(NOUNS)} data for the API layer.")]
    n = rng.choice([1, 2, 2, 3, 3, 4, 5, 6, 8])
    hit = rng.randrange(n) if incidental else -1
    for i in range(n):
        if rng.random() < 0.25:
            parts.append(plain_class(rng))
        parts.append(plain_function(rng, rng.choice(INCIDENTAL) if i == hit else None))
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------- SQL in Python
def repo_module(rng: random.Random, svc: str, tables: list[str], foreign: list[tuple[str, str]]) -> str:
    t = rng.choice(tables)
    parts = [f'"""Data access for {t} (asyncpg)."""\nfrom __future__ import annotations\n\n'
             "import asyncpg\n\n"
             f"SELECT_{t.upper()} = \"\"\"\n    SELECT id, status, created_at, updated_at\n"
             f"      FROM {t}\n     WHERE id = $1\n\"\"\"\n"]
    for _ in range(rng.randint(3, 9)):
        k = rng.random()
        a = rng.choice(tables)
        b = rng.choice(tables)
        fn = ident(rng, VERBS, NOUNS)
        if k < 0.3:
            parts.append(textwrap.dedent(f'''
                async def {fn}(conn: asyncpg.Connection, item_id: int) -> list[asyncpg.Record]:
                    """Rows of {a} with their {b}."""
                    return await conn.fetch(
                        """
                        SELECT a.id, a.status, b.id AS {b}_id
                          FROM {a} a
                          JOIN {b} b ON b.{a}_id = a.id
                         WHERE a.id = $1 AND a.status <> 'archived'
                         ORDER BY a.created_at DESC
                         LIMIT 100
                        """,
                        item_id,
                    )
                '''))
        elif k < 0.55:
            parts.append(textwrap.dedent(f'''
                async def {fn}(conn: asyncpg.Connection, item_id: int, status: str) -> None:
                    async with conn.transaction():
                        await conn.execute("UPDATE {a} SET status = $2, updated_at = now() WHERE id = $1", item_id, status)
                        await conn.execute(
                            "INSERT INTO {b} (id, {a}_id, note) VALUES ($1, $2, $3)",
                            item_id, item_id, f"status -> {{status}}",
                        )
                '''))
        elif k < 0.75:
            parts.append(textwrap.dedent(f'''
                def {fn}(cur, ids: list[int]) -> list[tuple]:
                    cur.execute("SELECT id, amount FROM {a} WHERE id = ANY(%s)", (ids,))
                    rows = cur.fetchall()
                    if len(rows) < len(ids):
                        cur.execute("DELETE FROM {b} WHERE {a}_id = ANY(%s) AND created_at < now() - interval '30 days'", (ids,))
                    return rows
                '''))
        elif k < 0.9:
            parts.append(textwrap.dedent(f'''
                async def {fn}(session, item_id: int) -> int:
                    stmt = text("SELECT count(*) FROM {a} WHERE {b}_id = :item_id")
                    result = await session.execute(stmt, {{"item_id": item_id}})
                    return result.scalar_one()
                '''))
        else:
            parts.append(textwrap.dedent(f'''
                async def {fn}(conn: asyncpg.Connection, item_id: int) -> asyncpg.Record | None:
                    return await conn.fetchrow(SELECT_{t.upper()}, item_id)
                '''))
    if foreign:
        other_svc, other_table = rng.choice(foreign)
        parts.append(textwrap.dedent(f'''
            async def {other_table}_snapshot(conn: asyncpg.Connection, item_id: int) -> asyncpg.Record | None:
                # Shortcut around the {other_svc} API.
                return await conn.fetchrow("SELECT * FROM {other_svc}.{other_table} WHERE id = $1", item_id)
            '''))
    parts.append(plain_function(rng, None))
    return "\n".join(parts)


def sqlalchemy_models(rng: random.Random, tables: list[str]) -> str:
    out = ['"""SQLAlchemy models."""\nfrom __future__ import annotations\n\n'
           "from sqlalchemy import Column, DateTime, ForeignKey, Integer, Numeric, String\n"
           "from sqlalchemy.orm import declarative_base, relationship\n\nBase = declarative_base()\n"]
    for t in rng.sample(tables, min(len(tables), rng.randint(2, 5))):
        other = rng.choice(tables)
        out.append(textwrap.dedent(f'''
            class {camel(t)}(Base):
                """One row of {t}."""

                __tablename__ = "{t}"

                id = Column(Integer, primary_key=True)
                status = Column(String(32), nullable=False, default="pending")
                amount = Column(Numeric(12, 2))
                {other}_id = Column(Integer, ForeignKey("{other}.id"), index=True)
                created_at = Column(DateTime, nullable=False)
                updated_at = Column(DateTime)

                {other} = relationship("{camel(other)}", lazy="selectin")

                def __repr__(self) -> str:
                    return f"<{camel(t)} {{self.id}} {{self.status}}>"
            '''))
    return "\n".join(out)


def django_models(rng: random.Random, tables: list[str]) -> str:
    out = ['"""Django models."""\nfrom django.db import models\n']
    for t in rng.sample(tables, min(len(tables), rng.randint(2, 5))):
        other = rng.choice(tables)
        out.append(textwrap.dedent(f'''
            class {camel(t)}(models.Model):
                status = models.CharField(max_length=32, default="pending")
                amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
                {other} = models.ForeignKey("{camel(other)}", on_delete=models.PROTECT, related_name="+")
                created_at = models.DateTimeField(auto_now_add=True)
                updated_at = models.DateTimeField(auto_now=True)

                class Meta:
                    db_table = "{t}"
                    ordering = ["-created_at"]

                def __str__(self) -> str:
                    return f"{camel(t)} {{self.pk}}"
            '''))
    return "\n".join(out)


# ----------------------------------------------------------------------------- SQL files
def migration(rng: random.Random, schema: str, tables: list[str], n: int) -> str:
    stmts = []
    for i in range(5):
        t = tables[(n * 5 + i) % len(tables)]
        other = rng.choice(tables)
        k = (n + i) % 5
        if k == 0:
            stmts.append(f"CREATE TABLE IF NOT EXISTS {schema}.{t} (\n"
                         f"    id BIGSERIAL PRIMARY KEY,\n    status VARCHAR(32) NOT NULL DEFAULT 'pending',\n"
                         f"    amount NUMERIC(12, 2),\n    {other}_id BIGINT REFERENCES {schema}.{other} (id),\n"
                         f"    created_at TIMESTAMP NOT NULL DEFAULT now(),\n    updated_at TIMESTAMP\n);")
        elif k == 1:
            stmts.append(f"ALTER TABLE {schema}.{t} ADD COLUMN IF NOT EXISTS note_{n} TEXT;")
        elif k == 2:
            stmts.append(f"CREATE INDEX IF NOT EXISTS idx_{t}_{n}_{i} ON {schema}.{t} (status, created_at);")
        elif k == 3:
            stmts.append(f"UPDATE {schema}.{t} SET status = 'active'\n WHERE status = 'pending'\n"
                         f"   AND created_at < now() - interval '{rng.randint(1, 90)} days';")
        else:
            stmts.append(f"INSERT INTO {schema}.{t} (id, status, amount)\n"
                         f"SELECT id, 'archived', amount FROM {schema}.{other} WHERE status = 'stale'\n"
                         f"ON CONFLICT (id) DO NOTHING;")
    return f"-- migration {n:04d} of {schema}\n" + "\n\n".join(stmts) + "\n"


def generate(out: Path, services: int, py_files: int, sql_files: int, seed: int) -> dict:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    names = [f"{DOMAINS[i % len(DOMAINS)]}_{i:03d}" for i in range(services)]
    tables = {s: [f"{n}s" for n in rng.sample(NOUNS, 8)] for s in names}
    manifest = ["version: 1", "dialect: postgres", 'exclude: ["**/node_modules/**"]', "services:"]
    for s in names:
        manifest += [f"  {s}:", f'    paths: ["services/{s}/**"]', f"    database: {s}_db",
                     f"    schemas: [{s}]"]
    (out / "dbowner.yaml").write_text("\n".join(manifest) + "\n", "utf-8")
    counts = {"py": 0, "sql": 0, "py_bytes": 0, "sql_bytes": 0}
    per_py, extra_py = divmod(py_files, services)
    per_sql, extra_sql = divmod(sql_files, services)
    for si, s in enumerate(names):
        base = out / "services" / s
        (base / "app").mkdir(parents=True, exist_ok=True)
        (base / "tests").mkdir(parents=True, exist_ok=True)
        (base / "migrations").mkdir(parents=True, exist_ok=True)
        foreign = [(o, t) for o in rng.sample(names, min(3, len(names))) if o != s for t in tables[o][:2]]
        for i in range(per_py + (si < extra_py)):
            k = rng.random()
            if k < 0.17:
                text = repo_module(rng, s, tables[s], foreign if rng.random() < 0.02 else [])
                rel = base / "app" / f"repo_{i:03d}.py"
            elif k < 0.25:
                text = sqlalchemy_models(rng, tables[s])
                rel = base / "app" / f"models_{i:03d}.py"
            elif k < 0.32:
                text = django_models(rng, tables[s])
                rel = base / "app" / f"dj_models_{i:03d}.py"
            else:
                text = plain_module(rng, incidental=rng.random() < 0.2)
                folder = "tests" if k > 0.9 else "app"
                rel = base / folder / (f"test_{i:03d}.py" if folder == "tests" else f"mod_{i:03d}.py")
            rel.write_text(text, "utf-8")
            counts["py"] += 1
            counts["py_bytes"] += len(text.encode())
        for n in range(per_sql + (si < extra_sql)):
            text = migration(rng, s, tables[s], n)
            (base / "migrations" / f"{n:04d}_{rng.choice(VERBS)}.sql").write_text(text, "utf-8")
            counts["sql"] += 1
            counts["sql_bytes"] += len(text.encode())
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--py-files", type=int, default=10_000)
    ap.add_argument("--sql-files", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    print(json.dumps(generate(a.out, a.services, a.py_files, a.sql_files, a.seed)))


if __name__ == "__main__":
    main()
