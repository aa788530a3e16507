"""saga-step-not-idempotent: see rules/saga-step-not-idempotent.yaml. The judgement lives in dbowner.sagas (shared with `dbowner sagas`)."""
from __future__ import annotations

from collections.abc import Iterator

from ..graph import OwnershipGraph
from ..sagas import STEP_NOT_IDEMPOTENT, saga_report
from .base import Hit, check


@check(STEP_NOT_IDEMPOTENT)
def saga_step_not_idempotent(og: OwnershipGraph) -> Iterator[Hit]:
    for p in saga_report(og).of_rule(STEP_NOT_IDEMPOTENT):
        yield Hit(p.path, p.line, p.message, end_line=p.end_line, service=p.service, table=p.table)
