"""saga-missing-compensation: see rules/saga-missing-compensation.yaml. The judgement lives in dbowner.sagas (shared with `dbowner sagas`)."""
from __future__ import annotations

from collections.abc import Iterator

from ..graph import OwnershipGraph
from ..sagas import MISSING_COMPENSATION, saga_report
from .base import Hit, check


@check(MISSING_COMPENSATION)
def saga_missing_compensation(og: OwnershipGraph) -> Iterator[Hit]:
    for p in saga_report(og).of_rule(MISSING_COMPENSATION):
        yield Hit(p.path, p.line, p.message, end_line=p.end_line, service=p.service, table=p.table)
