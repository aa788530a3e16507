"""Sagas and dual writes, after extraction: resolve saga shapes across files, judge them.

``saga_report(og)`` is computed once per run (the four rules and `dbowner sagas` share it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..graph import OwnershipGraph
from ..model import Diagnostic
from .assemble import Assembler
from .effects import EffectAnalyzer
from .index import CodeIndex, FunctionRef
from .model import Problem, Saga, Step, Target
from .verdicts import (
    COMPENSATION_NOT_IDEMPOTENT, DUAL_WRITE, MISSING_COMPENSATION, STEP_NOT_IDEMPOTENT,
    compensation_problems, dual_write_problems, idempotency_problems,
)

SAGA_RULES = frozenset({MISSING_COMPENSATION, STEP_NOT_IDEMPOTENT, COMPENSATION_NOT_IDEMPOTENT, DUAL_WRITE})

__all__ = ["SagaReport", "SAGA_RULES", "saga_report", "Saga", "Step", "Target", "Problem", "FunctionRef",
           "MISSING_COMPENSATION", "STEP_NOT_IDEMPOTENT", "COMPENSATION_NOT_IDEMPOTENT", "DUAL_WRITE"]


@dataclass
class SagaReport:
    sagas: list[Saga]
    problems: list[Problem]              # every saga rule's and dual-write's problems
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def of_rule(self, rule: str) -> list[Problem]:
        return [p for p in self.problems if p.rule == rule]


def saga_report(og: OwnershipGraph) -> SagaReport:
    if "sagas" not in og.derived:
        og.derived["sagas"] = _build(og)
    return og.derived["sagas"]


def _build(og: OwnershipGraph) -> SagaReport:
    index = CodeIndex(og)
    analyzer = EffectAnalyzer(index)
    assembler = Assembler(index, analyzer, og.manifest)
    sagas = assembler.run()
    problems: list[Problem] = []
    for saga in sagas:
        saga.problems = compensation_problems(saga)
        problems.extend(saga.problems)
    problems.extend(idempotency_problems(sagas, index))
    problems.extend(dual_write_problems(index, analyzer))
    return SagaReport(sagas, problems, sorted(assembler.diagnostics, key=lambda d: (d.path, d.line, d.message)))
