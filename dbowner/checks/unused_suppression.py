"""unused-suppression: its findings need every other rule's findings first, so they are made by
dbowner.policy.suppressions after the checks ran. Registered here so that selection, severity and
the catalog treat it like any rule."""
from .base import check


@check("unused-suppression")
def unused_suppression(og):
    return ()
