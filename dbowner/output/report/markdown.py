"""Markdown escaping for names from analysed code: they must render as the text they are, never
as emphasis, links, tables cells, HTML, headings, or GitHub mentions and issue references."""
from __future__ import annotations

import re

_INLINE = {c: "\\" + c for c in "\\`*_[]|~"}   # with [ ] escaped, ( ) and ! cannot form links
_INLINE.update({"&": "&amp;", "<": "&lt;", ">": "&gt;", "#": "&#35;", "@": "&#64;", "\r": " ", "\n": " "})
_TABLE = str.maketrans(_INLINE)
_LEADING = re.compile(r"^(\s*)([-+=]|\d+(?=[.)]))")


class Raw(str):
    """Text already in Markdown (a code block, the Mermaid diagram): not escaped again."""


def md_escape(value: object) -> str:
    text = str(value).translate(_TABLE)
    return _LEADING.sub(lambda m: m.group(1) + "\\" + m.group(2) if not m.group(2)[0].isdigit()
                        else m.group(1) + m.group(2) + "\\", text, count=1)


def code_block(lines: list[tuple[int, str]], highlight: int = 0) -> Raw:
    """Numbered excerpt lines in a fence longer than any backtick run inside."""
    body = "\n".join(f"{'>' if n == highlight else ' '}{n:5d} | {text}" for n, text in lines)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return Raw(f"{fence}text\n{body}\n{fence}")
