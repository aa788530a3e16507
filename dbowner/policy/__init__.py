"""Policy: what the team decided about findings, applied after the checks ran.

Rule selection and severity (the manifest's `rules:` plus command-line options), suppression
comments, and the baseline of accepted findings. The checks never see any of this.
"""
from .baseline import (
    BASELINE_NAME, Baseline, BaselineError, BaselineKey, StaleEntry, apply_baseline, load_baseline,
    update_baseline, write_baseline,
)
from .settings import RuleSettings, SelectionError, resolve_settings, select_rules
from .suppressions import Suppressed, apply_suppressions

__all__ = [
    "BASELINE_NAME", "Baseline", "BaselineError", "BaselineKey", "RuleSettings", "SelectionError", "StaleEntry",
    "Suppressed", "apply_baseline", "apply_suppressions", "load_baseline", "resolve_settings", "select_rules",
    "update_baseline", "write_baseline",
]
