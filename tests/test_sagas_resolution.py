"""Resolving a step or compensation to its definition across files, without importing anything."""
from __future__ import annotations

import pytest

from dbowner.analysis import analyze
from dbowner.manifest import load_manifest
from dbowner.sagas.index import CodeIndex, FunctionRef

MANIFEST = """
version: 1
services:
  pay:
    paths: ["services/pay/**"]
    tables: [accounts]
  ship:
    paths: ["services/ship/**"]
    tables: [parcels]
"""

FILES = {
    "dbowner.yaml": MANIFEST,
    "services/pay/app/__init__.py": "from .accounts import debit as debit_account\n",
    "services/pay/app/accounts.py": """
        async def debit(db, x):
            pass

        async def credit(db, x):
            pass

        class Base:
            async def audit(self):
                pass

        class Ledger(Base):
            async def post(self):
                pass

            async def run(self):
                def local():
                    pass
                return local
    """,
    "services/pay/app/saga.py": """
        from app.accounts import credit
        from app import accounts
        from . import accounts as acc
        from .accounts import Ledger
        import app.accounts
        import app.accounts as A
        from app import debit_account
        from requests import post
    """,
    "services/pay/app/activities.py": """
        @activity.defn(name="refund-card")
        async def refund(order):
            pass

        async def reserve(order):
            pass

        async def run_with(reserve, order):
            return await reserve(order)
    """,
    "services/ship/app/activities.py": """
        async def reserve(order):
            pass
    """,
}


@pytest.fixture
def index(make_repo):
    repo = make_repo(FILES)
    return CodeIndex(analyze(load_manifest(repo / "dbowner.yaml"), rules=[]).graph)


SAGA = "services/pay/app/saga.py"
ACCOUNTS = "services/pay/app/accounts.py"


@pytest.mark.parametrize("ref, scope, expected", [
    ("credit", "", f"{ACCOUNTS}:credit"),                      # from x import y
    ("accounts.debit", "", f"{ACCOUNTS}:debit"),               # from package import module
    ("acc.debit", "", f"{ACCOUNTS}:debit"),                    # relative, aliased module
    ("app.accounts.debit", "", f"{ACCOUNTS}:debit"),           # import a.b; a.b.f
    ("A.credit", "", f"{ACCOUNTS}:credit"),                    # import a.b as A
    ("Ledger.post", "", f"{ACCOUNTS}:Ledger.post"),            # imported class, method
    ("debit_account", "", f"{ACCOUNTS}:debit"),                # re-exported through __init__
    ("post", "", None),                                        # a library's function, not ours
    ("nowhere", "", None),
])
def test_resolve_from_another_module(index, ref, scope, expected):
    found = index.resolve(ref, SAGA, scope)
    assert (str(found) if found else None) == expected


@pytest.mark.parametrize("ref, scope, expected", [
    ("self.post", "Ledger.run", "Ledger.post"),
    ("self.audit", "Ledger.run", "Base.audit"),                 # inherited
    ("local", "Ledger.run", "Ledger.run.local"),                # nested function
    ("Ledger.post", "", "Ledger.post"),
    ("debit", "Ledger.run", "debit"),
    ("self.missing", "Ledger.run", None),
])
def test_resolve_in_the_same_module(index, ref, scope, expected):
    found = index.resolve(ref, ACCOUNTS, scope)
    assert (found.name if found else None) == expected


def test_resolve_registered_names_within_the_service(index):
    here = "services/pay/app/activities.py"
    assert index.resolve("refund-card", here) == FunctionRef(here, "refund")
    assert index.resolve("reserve", SAGA) == FunctionRef(here, "reserve")   # pay's, not ship's
    assert index.resolve("reserve", here, "run_with") is None                 # a parameter shadows it


def test_module_names_prefer_the_same_service(make_repo):
    repo = make_repo({
        "dbowner.yaml": MANIFEST,
        "services/pay/app/steps.py": "async def go():\n    pass\n",
        "services/ship/app/steps.py": "async def go():\n    pass\n",
        "services/ship/app/saga.py": "from app.steps import go\n",
    })
    index = CodeIndex(analyze(load_manifest(repo / "dbowner.yaml"), rules=[]).graph)
    assert index.resolve("go", "services/ship/app/saga.py") == FunctionRef("services/ship/app/steps.py", "go")
