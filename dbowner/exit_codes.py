"""Every exit code dbowner uses, in one place (README's table is checked against this)."""
from enum import IntEnum


class ExitCode(IntEnum):
    CLEAN = 0          # no new finding at error severity
    FINDINGS = 1       # at least one new finding at error severity, or a stale baseline entry
    USAGE = 2          # bad command line, manifest or configuration
    INTERNAL = 3       # a bug in dbowner: please report it


DESCRIPTIONS = {
    ExitCode.CLEAN: "no finding at error severity (warnings, diagnostics, suppressed and baselined findings may "
                    "still be printed)",
    ExitCode.FINDINGS: "at least one finding at error severity that is neither suppressed nor baselined, or a "
                       "stale baseline entry",
    ExitCode.USAGE: "usage or configuration error: bad option, missing or invalid dbowner.yaml or baseline",
    ExitCode.INTERNAL: "internal error in dbowner (a bug: please report it with the command line)",
}
