from .base import Hit, check


@check("two-phase-commit")
def two_phase_commit(og):
    for ff in og.facts:
        service = og.service_of.get(ff.path, "")
        for use in ff.two_phase:
            yield Hit(ff.path, use.line, end_line=use.end_line, service=service,
                      message=f"two-phase commit ({use.what}) couples services in one blocking protocol")
