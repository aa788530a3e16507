"""Checks: one module per rule, each registered under its rule name; see rules/<name>.yaml."""
from __future__ import annotations

from collections.abc import Iterable

from ..catalog import RuleInfo, load_catalog
from ..graph import OwnershipGraph
from ..model import Finding
from . import (  # noqa: F401  (importing registers the checks)
    cross_service_foreign_key, cross_service_join, cross_service_read, cross_service_transaction,
    cross_service_write, event_store_mutation, manifest_conflict, shared_database, two_phase_commit,
    unowned_table,
)
from . import (  # noqa: F401  sagas and outbox
    dual_write, saga_compensation_not_idempotent, saga_missing_compensation, saga_step_not_idempotent,
)
from .base import REGISTRY, Hit, check

__all__ = ["REGISTRY", "Hit", "check", "run_checks", "registered_rules"]


def registered_rules() -> list[RuleInfo]:
    catalog = load_catalog()
    return [catalog[name] for name in catalog if name in REGISTRY]


def run_checks(og: OwnershipGraph, rules: Iterable[RuleInfo]) -> list[Finding]:
    findings = set()
    for rule in rules:
        for hit in REGISTRY[rule.name](og):
            findings.add(Finding(
                code=rule.code, name=rule.name, severity=hit.severity or rule.severity,
                path=hit.path, line=hit.line, end_line=max(hit.end_line, hit.line),
                message=hit.message, hint=rule.hint, service=hit.service, table=hit.table,
            ))
    return sorted(findings, key=Finding.sort_key)
