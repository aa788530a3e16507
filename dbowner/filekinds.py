"""Which files are deployment config, and which environment a config file is for: by name alone.

Discovery uses it to pick config files up, extraction to choose how to read them.
"""
from __future__ import annotations

import posixpath
import re
from typing import Optional

SOURCE_SUFFIXES = (".py", ".sql")
_COMPOSE = re.compile(r"(?:docker-)?compose(?:[.-]([\w.-]+?))?\.ya?ml\Z", re.I)
_NOT_REAL_ENV = re.compile(r"(?:^|[.-])(?:example|sample|template|dist|tpl|defaults?\.example)\Z", re.I)
# File-name words that name one environment; any other word (base, override, orders...) means "any".
_ENVIRONMENTS = {"test", "dev", "prod", "stage", "qa", "uat", "perf", "e2e", "demo", "preprod", "sandbox"}
_LABEL_ALIASES = {"testing": "test", "tests": "test", "ci": "test", "development": "dev", "develop": "dev",
                  "production": "prod", "staging": "stage"}
_TEST_PARTS = {"test", "tests", "testing", "spec", "e2e", "fixtures"}


def config_kind(path: str) -> Optional[str]:
    """compose, dotenv, alembic or yaml (maybe Kubernetes) by file name; None for anything else."""
    name = posixpath.basename(path)
    low = name.lower()
    if _COMPOSE.fullmatch(low):
        return "compose"
    if low == "alembic.ini":
        return "alembic"
    if low == ".env" or low.startswith(".env.") or low.endswith(".env"):
        return None if _NOT_REAL_ENV.search(low) else "dotenv"
    if low.endswith((".yml", ".yaml")):
        return "yaml"
    return None


def env_label(path: str) -> str:
    """The environment a config file is for, from its name: .env.test -> test, compose.prod.yml -> prod."""
    parts = path.lower().split("/")
    if any(p in _TEST_PARTS for p in parts[:-1]) or parts[-1].startswith(("test_", "conftest")):
        return "test"
    name = parts[-1]
    m = _COMPOSE.fullmatch(name)
    if m:
        word = m.group(1) or ""
    elif name.startswith(".env"):
        word = name[len(".env"):].lstrip(".")
    elif name.endswith(".env"):
        word = name[: -len(".env")].strip(".")
    elif name.startswith("settings") or (len(parts) > 1 and parts[-2] in ("settings", "config", "configs")):
        word = re.sub(r"\.(py|ya?ml)\Z", "", name)         # settings/production.py, settings_test.py
        word = re.sub(r"^settings[_.]?", "", word)
    else:
        word = ""
    word = _LABEL_ALIASES.get(word, word)
    return word if word in _ENVIRONMENTS else ""


def is_test_label(label: str) -> bool:
    return label == "test"
