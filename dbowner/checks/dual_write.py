"""dual-write: see rules/dual-write.yaml. The judgement lives in dbowner.sagas (shared with `dbowner sagas`)."""
from __future__ import annotations

from collections.abc import Iterator

from ..graph import OwnershipGraph
from ..sagas import DUAL_WRITE, saga_report
from .base import Hit, check


@check(DUAL_WRITE)
def dual_write(og: OwnershipGraph) -> Iterator[Hit]:
    for p in saga_report(og).of_rule(DUAL_WRITE):
        yield Hit(p.path, p.line, p.message, end_line=p.end_line, service=p.service, table=p.table)
