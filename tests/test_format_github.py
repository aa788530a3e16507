"""`--format github`: workflow commands GitHub turns into pull-request annotations."""
from __future__ import annotations

import re
from pathlib import Path

from dbowner.output.common import repo_prefix
from dbowner.output.github import escape_data, escape_property, workflow_command

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "fixtures" / "shop"


def _unescape(text: str) -> str:
    """What the runner does to a value (the inverse of the toolkit's escaping)."""
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def _parse(line: str) -> tuple[str, dict[str, str], str]:
    m = re.fullmatch(r"::(\w+) ([^:]*)::(.*)", line)
    assert m, line
    props = dict(p.split("=", 1) for p in m.group(2).split(","))
    return m.group(1), {k: _unescape(v) for k, v in props.items()}, _unescape(m.group(3))


def test_escaping_follows_the_runner_rules():
    assert escape_data("100% sure\r\nnext: a,b") == "100%25 sure%0D%0Anext: a,b"
    assert escape_property("a%b:c,d\ne") == "a%25b%3Ac%2Cd%0Ae"
    hostile = "x::error file=evil.py::pwned\n::warning::more"
    line = workflow_command("error", hostile, file="a,b:c%.sql", line=3, title="T: 1, 2")
    assert line == ("::error file=a%2Cb%3Ac%25.sql,line=3,title=T%3A 1%2C 2::"
                    "x::error file=evil.py::pwned%0A::warning::more")
    assert "\n" not in line            # a message can never start a second command
    assert _parse(line) == ("error", {"file": "a,b:c%.sql", "line": "3", "title": "T: 1, 2"}, hostile)


def test_shop_findings_become_annotations_at_repository_paths(dbowner_cli):
    proc = dbowner_cli("check", SHOP, "--format", "github")
    assert proc.exit_code == 1 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    commands = [_parse(line) for line in lines if line.startswith("::")]
    assert len(commands) == 11
    assert lines[-1] == "dbowner: 9 error(s), 2 warning(s)"
    prefix = repo_prefix(SHOP)
    kind, props, message = next(c for c in commands if c[1]["title"] == "DBO102 cross-service-write")
    assert kind == "error"
    assert props == {"file": prefix + "services/orders/app/checkout.py", "line": "41", "endLine": "46",
                     "title": "DBO102 cross-service-write"}
    assert message.startswith("orders writes inventory.stock (UPDATE), a table owned by inventory\nFix: Let the owner")
    assert [c[0] for c in commands if c[1]["title"].startswith(("DBO002", "DBO105"))] == ["warning", "warning"]


def test_hostile_names_and_diagnostics(dbowner_cli, hostile_repo):
    proc = dbowner_cli("check", hostile_repo, "--format", "github")
    lines = proc.stdout.splitlines()
    assert len(lines) == 5                       # 3 findings, 1 diagnostic, the summary: no line was split
    commands = [_parse(line) for line in lines[:-1]]
    files = [c[1]["file"] for c in commands]
    assert files == ["services/orders/app/broken.sql", "services/orders/app/new\nline.sql",
                     "services/orders/app/we,ird:50%.sql", "services/orders/app/broken.sql"]
    assert "file=services/orders/app/we%2Cird%3A50%25.sql," in lines[2]
    kind, props, message = commands[3]
    assert kind == "notice" and props["line"] == "1"
    assert props["title"] == "dbowner could not analyse this (parse-error)"
    assert message.startswith("cannot parse SQL statement")
    assert lines[-1] == "dbowner: 2 error(s), 1 warning(s); 1 file(s) or statement(s) not fully analysed"


def test_github_is_the_default_inside_github_actions_only(dbowner_cli, tmp_path):
    auto = dbowner_cli("check", SHOP, env={"GITHUB_ACTIONS": "true"})
    assert auto.exit_code == 1
    assert auto.stdout == dbowner_cli("check", SHOP, "--format", "github").stdout
    assert auto.stdout.startswith("::error file=")
    explicit = dbowner_cli("check", SHOP, "--format", "text", env={"GITHUB_ACTIONS": "true"})
    assert "::error" not in explicit.stdout and "9 error(s), 2 warning(s)" in explicit.stdout
    local = dbowner_cli("check", SHOP, env={"GITHUB_ACTIONS": "false"})
    assert "::error" not in local.stdout
    # A report file would hide annotations from the runner, so --output keeps text as the default.
    report = tmp_path / "report.txt"
    to_file = dbowner_cli("check", SHOP, "--output", report, env={"GITHUB_ACTIONS": "true"})
    assert to_file.stdout == "" and "::error" not in report.read_text("utf-8")


def test_repository_prefix_found_without_running_git(tmp_path, monkeypatch):
    nested = tmp_path / "repo" / "platform" / "db"
    nested.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert repo_prefix(nested) == ""                                  # no .git, cwd not above: manifest-relative
    monkeypatch.chdir(tmp_path / "repo")
    assert repo_prefix(nested) == "platform/db/"                      # no .git: relative to the cwd
    (tmp_path / "repo" / ".git").write_text("gitdir: /somewhere/else\n")   # worktrees and submodules use a file
    monkeypatch.chdir(elsewhere)
    assert repo_prefix(nested) == "platform/db/"
    (tmp_path / "repo" / "platform" / ".git").mkdir()                 # the nearest .git wins
    assert repo_prefix(nested) == "db/"
    assert repo_prefix(tmp_path / "repo" / "platform") == ""
