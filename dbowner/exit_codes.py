"""Every exit code dbowner uses, in one place (README's table is checked against this)."""
from enum import IntEnum


class ExitCode(IntEnum):
    CLEAN = 0          # no finding at error severity
    FINDINGS = 1       # at least one finding at error severity
    USAGE = 2          # bad command line, manifest or configuration
    INTERNAL = 3       # a bug in dbowner: please report it


DESCRIPTIONS = {
    ExitCode.CLEAN: "no finding at error severity (warnings and diagnostics may still be printed)",
    ExitCode.FINDINGS: "at least one finding at error severity",
    ExitCode.USAGE: "usage or configuration error: bad option, missing or invalid dbowner.yaml",
    ExitCode.INTERNAL: "internal error in dbowner (a bug: please report it with the command line)",
}
