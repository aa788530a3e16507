"""Generate facts files of many synthetic repositories, to time `dbowner merge` (not a test).

    python bench/make_facts.py --repos 1000 --out /tmp/dbowner-facts
    time dbowner merge /tmp/dbowner-facts/*.json --format json > /dev/null

Each repository has one service (every tenth has two) owning 10 tables in its own database, 25
files with 6 statements each; about 3% of table accesses reach into another repository's tables,
so the merge finds cross-service reads, writes and joins that no single repository can see.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

from dbowner.discover import Discovery, SourceFile
from dbowner.estate.facts import FactsDocument, RepoFacts, dump_document
from dbowner.manifest import Manifest, Service, TablePattern
from dbowner.model import READ, WRITE, FileFacts, Statement, TableAccess, TableName

TABLES = 10
FILES = 25
STATEMENTS = 6
FOREIGN = 0.03


def services_of(i: int) -> list[str]:
    return [f"svc{i:04d}"] + ([f"svc{i:04d}b"] if i % 10 == 0 else [])


def table(service: str, k: int) -> str:
    return f"{service}_t{k}"


def repo(i: int, n: int, rnd: random.Random, foreign: float = FOREIGN) -> RepoFacts:
    names = services_of(i)
    services = {s: Service(s, (f"{s}/**",), database=f"db_{s}",
                           tables=tuple(TablePattern.parse(table(s, k)) for k in range(TABLES))) for s in names}
    manifest = Manifest(Path(f"repo{i:04d}") / "dbowner.yaml", services=services,
                        lines={("services", s): 3 + 6 * j for j, s in enumerate(names)})
    disc, files = Discovery(), []
    for s in names:
        for f in range(FILES):
            path = f"{s}/app/module_{f}.py"
            disc.files.append(SourceFile(path, s))
            stmts = []
            for st in range(STATEMENTS):
                line = 10 + 8 * st
                accesses = []
                for _ in range(rnd.randint(1, 3)):
                    owner = s
                    if rnd.random() < foreign:
                        owner = rnd.choice(services_of(rnd.randrange(n)))
                    role = WRITE if rnd.random() < 0.3 else READ
                    action = "update" if role == WRITE else "select"
                    accesses.append(TableAccess(TableName(table(owner, rnd.randrange(TABLES))), role, action, line))
                kind = "update" if any(a.role == WRITE for a in accesses) else "select"
                text = f"{kind.upper()} ... {' JOIN '.join(a.table.name for a in accesses)}"
                stmts.append(Statement(line, line + 3, kind, text, tuple(accesses), function=f"fn_{st}",
                                       origin="python"))
            files.append(FileFacts(path, stmts))
    return RepoFacts(f"repo{i:04d}", manifest, disc, files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/dbowner-facts"))
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--foreign", type=float, default=FOREIGN, help="share of accesses to other repositories' tables")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(args.seed)
    for i in range(args.repos):
        doc = FactsDocument([repo(i, args.repos, rnd, args.foreign)])
        (args.out / f"repo{i:04d}.json").write_text(dump_document(doc), "utf-8")
    print(f"wrote {args.repos} facts files to {args.out}")


if __name__ == "__main__":
    main()
