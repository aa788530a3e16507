"""Line-independent fingerprints of findings, shared by the machine formats (and baselines).

A fingerprint must survive unrelated edits (lines inserted above a finding) so that code scanning,
GitLab and baselines recognise the same problem across runs. It hashes what identifies the problem
(rule, file, service, table and the message with standalone numbers blanked) plus an occurrence
index that tells apart identical problems in one file, counted in line order. The path is the one
relative to the manifest's folder, so where dbowner runs from (or whether .git is found) never matters.

Changing this function re-keys every stored alert and baseline entry: bump VERSION if you must.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence

from .model import Finding

VERSION = "v1"
_NUMBER = re.compile(r"\b\d+\b")   # "line 13", "2 owners"; keeps names such as orders_2023 or shard1


def finding_key(finding: Finding) -> tuple[str, ...]:
    """What identifies a finding apart from where it sits in the file."""
    return (finding.code, finding.path, finding.service, finding.table, _NUMBER.sub("#", finding.message))


def fingerprints(findings: Sequence[Finding]) -> list[str]:
    """One fingerprint per finding, in the order given. 32 hex digits, stable across runs and machines."""
    order = sorted(range(len(findings)), key=lambda i: (findings[i].line, findings[i].end_line, i))
    seen: Counter[tuple[str, ...]] = Counter()
    out = [""] * len(findings)
    for i in order:
        key = finding_key(findings[i])
        occurrence = seen[key]
        seen[key] += 1
        text = "\x1f".join((VERSION, *key, str(occurrence)))
        out[i] = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    return out
