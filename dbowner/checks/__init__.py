"""Checks: one module per rule, each registered under its rule name; see rules/<name>.yaml."""
from __future__ import annotations

from collections.abc import Iterable

from ..catalog import RuleInfo, load_catalog
from ..graph import OwnershipGraph
from ..livegraph import LiveModel
from ..model import Finding
from . import (  # noqa: F401  (importing registers the checks)
    cross_service_foreign_key, cross_service_join, cross_service_read, cross_service_transaction,
    cross_service_write, event_store_mutation, manifest_conflict, shared_database, two_phase_commit,
    unowned_table,
)
from . import cross_service_grant, missing_table  # noqa: F401  (checks of a live database)
from . import suppression_without_reason, unused_suppression  # noqa: F401  (applied in dbowner.policy)
from . import (  # noqa: F401  sagas and outbox
    dual_write, saga_compensation_not_idempotent, saga_missing_compensation, saga_step_not_idempotent,
)
from .base import LIVE_REGISTRY, REGISTRY, Hit, check, live_check

__all__ = ["LIVE_REGISTRY", "REGISTRY", "Hit", "check", "live_check", "run_checks", "run_live_checks",
           "registered_rules"]


def registered_rules() -> list[RuleInfo]:
    catalog = load_catalog()
    return [catalog[name] for name in catalog if name in REGISTRY]


def run_checks(og: OwnershipGraph, rules: Iterable[RuleInfo]) -> list[Finding]:
    findings = set()
    for rule in rules:
        for hit in REGISTRY[rule.name](og):
            findings.add(_finding(rule, hit))
    return sorted(findings, key=Finding.sort_key)


def _finding(rule: RuleInfo, hit: Hit) -> Finding:
    return Finding(
        code=rule.code, name=rule.name, severity=hit.severity or rule.severity,
        path=hit.path, line=hit.line, end_line=max(hit.end_line, hit.line),
        message=hit.message, hint=rule.hint, service=hit.service, table=hit.table,
    )


def run_live_checks(model: LiveModel, rules: Iterable[RuleInfo]) -> tuple[list[Finding], dict[str, str]]:
    """Findings of the live checks among `rules`, and rule name -> why it was skipped (fact groups
    the connection could not read)."""
    findings = set()
    skipped = {}
    for rule in rules:
        if rule.name not in LIVE_REGISTRY:
            continue
        fn, needs = LIVE_REGISTRY[rule.name]
        missing = [group for group in needs if group in model.facts.unavailable]
        if missing:
            skipped[rule.name] = "; ".join(f"{g}: {model.facts.unavailable[g]}" for g in missing)
            continue
        for hit in fn(model):
            findings.add(_finding(rule, hit))
    return sorted(findings, key=Finding.sort_key), skipped
