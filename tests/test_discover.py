"""Discovery: which files are analysed, for which service, and what is skipped and why."""
from __future__ import annotations

import os

from dbowner.discover import discover
from dbowner.manifest import load_manifest

MANIFEST = """
version: 1
exclude: ["**/tests/**"]
services:
  orders:
    paths: ["services/orders/**"]
  users:
    paths: ["services/users/**", "shared/users_*.py"]
"""


def test_files_map_to_services_and_the_rest_is_counted(make_repo):
    root = make_repo({
        "dbowner.yaml": MANIFEST,
        "services/orders/app.py": "x = 1\n",
        "services/orders/migrations/001.sql": "SELECT 1;\n",
        "services/orders/README.md": "not source\n",
        "services/orders/tests/test_app.py": "x = 1\n",
        "services/users/api.py": "x = 1\n",
        "shared/users_repo.py": "x = 1\n",
        "scripts/seed.py": "x = 1\n",
    })
    d = discover(load_manifest(root / "dbowner.yaml"))
    assert [(f.path, f.service) for f in d.files] == [
        ("services/orders/app.py", "orders"),
        ("services/orders/migrations/001.sql", "orders"),
        ("services/users/api.py", "users"),
        ("shared/users_repo.py", "users"),
    ]
    assert d.outside == ["scripts/seed.py"]
    assert d.excluded == 1


def test_gitignore_is_honoured_at_every_level(make_repo):
    root = make_repo({
        "dbowner.yaml": MANIFEST,
        ".gitignore": "build/\n",
        "services/orders/.gitignore": "generated_*.py\n",
        "services/orders/app.py": "",
        "services/orders/generated_models.py": "",
        "services/orders/build/out.py": "",
        "services/users/generated_ok.py": "",
    })
    d = discover(load_manifest(root / "dbowner.yaml"))
    assert [f.path for f in d.files] == ["services/orders/app.py", "services/users/generated_ok.py"]


def test_large_files_and_escaping_symlinks_are_diagnostics(make_repo, tmp_path_factory):
    root = make_repo({"dbowner.yaml": MANIFEST, "services/orders/app.py": ""})
    (root / "services/orders/dump.sql").write_bytes(b"-- x\n" * 600_000)
    outside = tmp_path_factory.mktemp("elsewhere")
    (outside / "secret.py").write_text("x = 1\n")
    os.symlink(outside / "secret.py", root / "services/orders/link.py")
    os.symlink(outside, root / "services/orders/linked_dir")
    d = discover(load_manifest(root / "dbowner.yaml"))
    assert [f.path for f in d.files] == ["services/orders/app.py"]
    kinds = {(x.path, x.kind) for x in d.diagnostics}
    assert kinds == {("services/orders/dump.sql", "skipped-large"), ("services/orders/link.py", "skipped-symlink"),
                     ("services/orders/linked_dir", "skipped-symlink")}


def test_overlapping_paths_are_recorded(make_repo):
    root = make_repo({
        "dbowner.yaml": "version: 1\nservices:\n  a:\n    paths: ['svc/**']\n  b:\n    paths: ['svc/b/**']\n",
        "svc/b/x.py": "",
    })
    d = discover(load_manifest(root / "dbowner.yaml"))
    assert d.overlaps == {("a", "b"): "svc/b/x.py"}
    assert [(f.path, f.service) for f in d.files] == [("svc/b/x.py", "a")]
