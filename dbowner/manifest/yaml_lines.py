"""Load YAML keeping the line of every key path, so config errors can point at a line."""
from __future__ import annotations

from typing import Any

import yaml


class YamlError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


KeyPath = tuple[Any, ...]


def load_with_lines(text: str) -> tuple[Any, dict[KeyPath, int]]:
    """Return (data, lines) where lines maps a key path like ("services", "orders", "tables", 0)
    to the 1-based line of that key or item. Duplicate mapping keys are errors."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        raise YamlError(line, f"invalid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise YamlError(0, f"invalid YAML: {e}") from None
    lines: dict[KeyPath, int] = {}
    if node is None:
        return None, lines
    try:
        return _convert(node, (), lines), lines
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise YamlError(mark.line + 1 if mark else 0, f"invalid YAML: {e.problem or e.context}") from None
    except (yaml.YAMLError, ValueError, TypeError) as e:
        raise YamlError(0, f"invalid YAML: {e}") from None


def _convert(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if isinstance(key, (dict, list)) or key is None:
                raise YamlError(key_node.start_mark.line + 1, "mapping keys must be plain strings")
            key = str(key)
            if key in out:
                raise YamlError(key_node.start_mark.line + 1, f"duplicate key '{key}'")
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, path + (key,), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (i,), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        # Resolve tags (int, bool, null...) the way SafeLoader would.
        return _LOADER.construct_object(node, deep=True)
    return {} if isinstance(node, yaml.MappingNode) else []


_LOADER = yaml.SafeLoader("")
