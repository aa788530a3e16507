"""`--format junit`: JUnit XML for CI test reports (GitLab, Jenkins, Azure DevOps, ...).

One testsuite per rule that ran, so the report also shows what was checked: each finding is a
failing testcase (`type` = its severity), and a rule without findings has one passing testcase.
Files dbowner could not analyse are skipped testcases in a last "dbowner diagnostics" suite.
Paths are relative to the repository root, like the other CI formats.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..analysis import Analysis
from .common import repo_prefix, reported_rules

# Characters XML 1.0 cannot carry even escaped (most C0 controls, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render_junit(analysis: Analysis) -> str:
    prefix = repo_prefix(analysis.manifest.root)
    root = ET.Element("testsuites", name="dbowner")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for rule in reported_rules(analysis):
        classname = f"{rule.code} {rule.name}"
        suite = ET.SubElement(root, "testsuite", name=classname)
        findings = [f for f in analysis.findings if f.code == rule.code]
        for f in findings:
            name = f"{f.path}:{f.line}" + (f" {f.table}" if f.table else "")
            case = ET.SubElement(suite, "testcase", classname=classname, name=_clean(name),
                                 file=_clean(prefix + f.path), line=str(f.line))
            failure = ET.SubElement(case, "failure", message=_clean(f.message), type=f.severity.value)
            where = f"{prefix}{f.path}:{f.line}" + (f"-{f.end_line}" if f.end_line > f.line else "")
            details = [f"{f.code} {f.name} [{f.severity.value}] at {where}"]
            details += [f"service: {f.service}"] if f.service else []
            details += [f"table: {f.table}"] if f.table else []
            failure.text = _clean("\n".join([*details, "", f.message, "", f"Fix: {f.hint}"]))
        if not findings:
            ET.SubElement(suite, "testcase", classname=classname, name="no findings")
        _count(suite, tests=max(1, len(findings)), failures=len(findings), skipped=0, totals=totals)
    if analysis.diagnostics:
        suite = ET.SubElement(root, "testsuite", name="dbowner diagnostics")
        for d in analysis.diagnostics:
            name = f"{d.path}:{d.line}" if d.line else d.path
            case = ET.SubElement(suite, "testcase", classname="dbowner diagnostics", name=_clean(name),
                                 file=_clean(prefix + d.path))
            if d.line:
                case.set("line", str(d.line))
            ET.SubElement(case, "skipped", message=_clean(f"{d.kind}: {d.message}"))
        n = len(analysis.diagnostics)
        _count(suite, tests=n, failures=0, skipped=n, totals=totals)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _count(suite: ET.Element, *, tests: int, failures: int, skipped: int, totals: dict[str, int]) -> None:
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    totals["tests"] += tests
    totals["failures"] += failures
    totals["skipped"] += skipped
