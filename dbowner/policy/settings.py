"""Which rules run, where, and at what severity: the manifest's `rules:` with command-line overrides.

A rule selector is a name (cross-service-read), a code (DBO101) or a code prefix (DBO1).
Command line over manifest: `--select` replaces the manifest's `select` and `ignore`; `--ignore`
adds to the manifest's `ignore`; `--severity` wins over `rules.severity`; `--require-reasons`/
`--no-require-reasons` over `rules.require_reasons`. Within one source an exact name or code wins
over a prefix.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import pathspec

from ..catalog import RuleInfo, did_you_mean, match_rules
from ..checks import registered_rules
from ..manifest import RulesConfig
from ..model import Finding, Severity


class SelectionError(ValueError):
    """A bad rule selector or option value on the command line (exit 2, one line)."""


@dataclass
class RuleSettings:
    rules: tuple[RuleInfo, ...]                       # the rules that run, in code order
    severity: dict[str, Severity] = field(default_factory=dict)   # rule name -> configured severity
    require_reasons: bool = False
    per_path_ignores: tuple[tuple[str, frozenset[str]], ...] = ()  # (glob, rule names)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _specs: tuple[tuple[pathspec.PathSpec, frozenset[str]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._names = frozenset(r.name for r in self.rules)
        self._specs = tuple((pathspec.GitIgnoreSpec.from_lines([glob]), names)
                            for glob, names in self.per_path_ignores)

    def runs(self, rule: str, path: str) -> bool:
        """Did `rule` (a name) run on the file at `path`? False when it was not selected or when
        `per_path_ignores` switches it off there."""
        if rule not in self._names:
            return False
        return not any(rule in names and spec.match_file(path) for spec, names in self._specs)

    def configure(self, finding: Finding) -> Finding:
        """The finding with its configured severity."""
        level = self.severity.get(finding.name)
        return finding if level is None or level is finding.severity else replace(finding, severity=level)


def select_rules(select: Iterable[str] = (), ignore: Iterable[str] = (),
                 universe: list[RuleInfo] | None = None) -> list[RuleInfo]:
    """Rules after --select/--ignore alone (no manifest), in code order, among `universe`
    (default: the rules `check` runs)."""
    return list(resolve_settings(RulesConfig(), select, ignore, universe=universe).rules)


def resolve_settings(config: RulesConfig, select: Iterable[str] = (), ignore: Iterable[str] = (),
                     severity: Iterable[str] = (), require_reasons: bool | None = None,
                     universe: list[RuleInfo] | None = None) -> RuleSettings:
    """Settings from the manifest's `rules:` (already validated) and command-line values.

    `severity` items are "RULE=LEVEL". Raises SelectionError for unknown rules or bad values.
    `universe` is the rules this command can run (default: the rules `check` runs).
    """
    available = registered_rules() if universe is None else universe
    select = [s for s in select if s.strip()]
    ignore = [s for s in ignore if s.strip()]

    def names(selectors: Iterable[str], selecting: bool = True) -> set[str]:
        out = set()
        for s in selectors:
            found = match_rules(s, available)
            if not found and match_rules(s):
                if not selecting:
                    continue    # ignoring a rule this command never runs is harmless
                raise SelectionError(f"rule '{s}' is not checked by this command (see `dbowner explain {s.strip()}`)")
            if not found:
                raise SelectionError(f"unknown rule '{s}'{did_you_mean(s)} (see `dbowner explain --list`)")
            out.update(r.name for r in found)
        return out

    if select:
        chosen, dropped = names(select), names(ignore, selecting=False)
    else:
        chosen = names(config.select) if config.select else {r.name for r in available}
        dropped = names(config.ignore, selecting=False) | names(ignore, selecting=False)
    rules = tuple(r for r in available if r.name in chosen and r.name not in dropped)

    levels: dict[str, Severity] = {}
    for pairs in (config.severity, [_split_level(item) for item in severity]):
        for selector, level in sorted(pairs, key=lambda p: _specificity(p[0])):
            for name in names([selector]):
                levels[name] = Severity(level)
    return RuleSettings(
        rules=rules, severity=levels,
        require_reasons=config.require_reasons if require_reasons is None else require_reasons,
        per_path_ignores=tuple((glob, frozenset(names(sel))) for glob, sel in config.per_path_ignores),
    )


def _split_level(item: str) -> tuple[str, str]:
    rule, sep, level = item.partition("=")
    level = level.strip().lower()
    if not sep or not rule.strip() or level not in {s.value for s in Severity}:
        raise SelectionError(f"--severity expects RULE=error|warning|info, got '{item}'")
    return rule.strip(), level


def _specificity(selector: str) -> tuple[int, int]:
    """Prefixes first (shorter first), then exact names and codes, so the most specific wins."""
    exact = any(selector.strip().lower() in (r.name, r.code.lower()) for r in match_rules(selector))
    return (1 if exact else 0, len(selector.strip()))
