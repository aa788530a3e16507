"""suppression-without-reason: reported by dbowner.policy.suppressions (with `rules.require_reasons`),
where suppressions are applied. Registered here so that selection, severity and the catalog treat it
like any rule."""
from .base import check


@check("suppression-without-reason")
def suppression_without_reason(og):
    return ()
