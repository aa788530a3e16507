"""Find, parse and validate dbowner.yaml. Every problem becomes a ManifestError line."""
from __future__ import annotations

import difflib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from ..catalog import did_you_mean, match_rules
from .model import Manifest, RulesConfig, SagaSpec, SagaStepRef, Service, TablePattern
from .yaml_lines import YamlError, load_with_lines

MANIFEST_NAMES = ("dbowner.yaml", "dbowner.yml")


class ManifestError(Exception):
    """One or more configuration problems; str() is one line per problem: file:line: where: what."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@lru_cache(maxsize=1)
def manifest_schema() -> dict[str, Any]:
    return json.loads(resources.files("dbowner.manifest").joinpath("schema.json").read_text("utf-8"))


def find_manifest(start: Path) -> Path:
    """The manifest in `start` (a folder or a manifest file) or its nearest parent folder."""
    start = start.resolve()
    if start.is_file():
        return start
    for folder in (start, *start.parents):
        for name in MANIFEST_NAMES:
            if (folder / name).is_file():
                return folder / name
    raise ManifestError([f"{start}: no dbowner.yaml here or in any parent folder (create one, see README)"])


def load_manifest(path: Path) -> Manifest:
    shown = path.name
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError([f"{path}: cannot read manifest: {e}"]) from None
    try:
        data, lines = load_with_lines(text)
    except YamlError as e:
        raise ManifestError([f"{shown}:{e.line}: {e.message}"]) from None
    if not isinstance(data, dict):
        raise ManifestError([f"{shown}:1: the manifest must be a mapping with 'version' and 'services'"])
    problems = _schema_problems(data, lines, shown)
    if problems:
        raise ManifestError(problems)
    manifest = _build(path, data, lines)
    problems = _semantic_problems(manifest, shown)
    if problems:
        raise ManifestError(problems)
    return manifest


def _where(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line(lines: dict, path: tuple[Any, ...]) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def _schema_problems(data: dict, lines: dict, shown: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(manifest_schema())
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: (_line(lines, tuple(e.absolute_path)), e.message)):
        path = tuple(err.absolute_path)
        problems.extend(_describe(err, path, lines, shown))
    return problems


def _describe(err: jsonschema.ValidationError, path: tuple, lines: dict, shown: str) -> list[str]:
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted(err.schema.get("properties", {}))
        out = []
        for key in sorted(set(err.instance) - set(allowed)):
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (expected one of: {', '.join(allowed)})"
            out.append(f"{shown}:{_line(lines, path + (key,))}: {_where(path + (key,))}: unknown key '{key}'{hint}")
        return out
    where = _where(path)
    line = _line(lines, path)
    if err.validator == "required":
        missing = [k for k in err.validator_value if isinstance(err.instance, dict) and k not in err.instance]
        return [f"{shown}:{line}: {where}: missing required key '{k}'" for k in missing]
    if err.validator == "const" and path == ("version",):
        return [f"{shown}:{line}: version: expected 1, got {err.instance!r}"]
    if err.validator == "type":
        return [f"{shown}:{line}: {where}: expected {_a(err.validator_value)}, got {_kind(err.instance)}"]
    if err.validator == "pattern" and err.schema.get("description"):
        return [f"{shown}:{line}: {where}: {err.instance!r} is not of the form {err.schema['description']}"]
    if err.validator == "pattern":
        return [f"{shown}:{line}: {where}: invalid name {err.instance!r}"]
    if err.validator == "enum":
        return [f"{shown}:{line}: {where}: expected one of {', '.join(map(str, err.validator_value))}, "
                f"got {_kind(err.instance)}"]
    if err.validator == "minItems":
        return [f"{shown}:{line}: {where}: must not be empty"]
    if err.validator == "minProperties":
        return [f"{shown}:{line}: {where}: declare at least one service"]
    if err.validator == "minLength":
        return [f"{shown}:{line}: {where}: must not be an empty string"]
    return [f"{shown}:{line}: {where}: {err.message}"]


def _a(types: Any) -> str:
    names = {"object": "a mapping", "array": "a list", "string": "a string", "boolean": "true or false",
             "integer": "an integer"}
    if isinstance(types, list):
        return " or ".join(names.get(t, t) for t in types)
    return names.get(types, types)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__) + (f" ({value!r})" if isinstance(value, (str, int, float)) and not isinstance(value, bool) else "")


def _build(path: Path, data: dict, lines: dict) -> Manifest:
    services = {}
    for name, spec in data["services"].items():
        services[name] = Service(
            name=name,
            paths=tuple(spec["paths"]),
            database=spec.get("database"),
            dialect=spec.get("dialect"),
            schemas=tuple(s.lower() for s in spec.get("schemas", [])),
            tables=tuple(TablePattern.parse(t) for t in spec.get("tables", [])),
            reads=tuple(TablePattern.parse(t) for t in spec.get("reads", [])),
            event_store=tuple(TablePattern.parse(t) for t in spec.get("event_store", [])),
            roles=tuple(spec.get("roles", [])),
        )
    sagas = {
        name: SagaSpec(
            name=name,
            description=spec.get("description", ""),
            steps=tuple(SagaStepRef(s["action"], s.get("compensation"), bool(s.get("pivot", False)))
                        for s in spec["steps"]),
        )
        for name, spec in (data.get("sagas") or {}).items()
    }
    rules = data.get("rules") or {}
    config = RulesConfig(
        select=tuple(rules.get("select", [])), ignore=tuple(rules.get("ignore", [])),
        severity=tuple((k, v) for k, v in (rules.get("severity") or {}).items()),
        require_reasons=bool(rules.get("require_reasons", False)),
        per_path_ignores=tuple((glob, tuple(sel)) for glob, sel in (rules.get("per_path_ignores") or {}).items()),
    )
    return Manifest(path=path, dialect=data.get("dialect", "postgres"), exclude=tuple(data.get("exclude", [])),
                    services=services, sagas=sagas, lines=lines, rules=config)


# sqlglot's dialect names (tests/test_runner.py checks them against sqlglot): a manifest that
# uses one of them is validated without importing sqlglot, which a warm run does not otherwise need.
KNOWN_DIALECTS = frozenset({
    "athena", "bigquery", "clickhouse", "databricks", "doris", "dremio", "drill", "druid", "duckdb",
    "exasol", "fabric", "hive", "materialize", "mysql", "oracle", "postgres", "presto", "redshift",
    "risingwave", "snowflake", "spark", "spark2", "sqlite", "starrocks", "teradata", "trino", "tsql",
})


def _semantic_problems(m: Manifest, shown: str) -> list[str]:
    problems = []

    def check_dialect(name: str | None, *keypath: Any) -> None:
        if not name or name in KNOWN_DIALECTS:
            return
        from sqlglot.dialects.dialect import Dialect

        try:
            Dialect.get_or_raise(name)
        except Exception:
            problems.append(f"{shown}:{m.line_of(*keypath)}: {_where(keypath)}: unknown SQL dialect '{name}'")

    check_dialect(m.dialect, "dialect")
    for svc in m.services.values():
        check_dialect(svc.dialect, "services", svc.name, "dialect")
        for field_name in ("tables", "reads", "event_store"):
            for i, pat in enumerate(getattr(svc, field_name)):
                if pat.text.count(".") > 1 or not pat.name or (pat.text.count(".") == 1 and not pat.schema):
                    problems.append(f"{shown}:{m.line_of('services', svc.name, field_name, i)}: "
                                    f"services.{svc.name}.{field_name}[{i}]: '{pat.text}' is not a table "
                                    "name (expected table, schema.table or a glob)")
    role_owner: dict[str, str] = {}
    for svc in m.services.values():
        for i, role in enumerate(svc.roles):
            other = role_owner.setdefault(role, svc.name)
            if other != svc.name or svc.roles.index(role) != i:
                taken = "is listed twice" if other == svc.name else f"is already a role of service {other}"
                problems.append(f"{shown}:{m.line_of('services', svc.name, 'roles', i)}: "
                                f"services.{svc.name}.roles[{i}]: role '{role}' {taken}")
    problems.extend(_rules_problems(m, shown))
    for saga in m.sagas.values():
        for i, step in enumerate(saga.steps):
            for role in ("action", "compensation"):
                ref = getattr(step, role)
                if ref and not (m.root / ref.split(":", 1)[0]).is_file():
                    problems.append(f"{shown}:{m.line_of('sagas', saga.name, 'steps', i, role)}: "
                                    f"sagas.{saga.name}.steps[{i}].{role}: file '{ref.split(':', 1)[0]}' does not exist")
    return problems


def _rules_problems(m: Manifest, shown: str) -> list[str]:
    """Every rule selector in `rules:` must name at least one rule."""
    problems = []

    def check(selector: str, *keypath: Any) -> None:
        if not match_rules(selector):
            problems.append(f"{shown}:{m.line_of(*keypath)}: {_where(keypath)}: unknown rule '{selector}'"
                            f"{did_you_mean(selector)} (see `dbowner explain --list`)")

    for key in ("select", "ignore"):
        for i, selector in enumerate(getattr(m.rules, key)):
            check(selector, "rules", key, i)
    for selector, _ in m.rules.severity:
        check(selector, "rules", "severity", selector)
    for glob, selectors in m.rules.per_path_ignores:
        for i, selector in enumerate(selectors):
            check(selector, "rules", "per_path_ignores", glob, i)
    return problems
