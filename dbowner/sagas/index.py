"""Every function in the repository by file and qualified name, and name resolution across
files: the same module, ``from x import y``, ``module.function``, ``self.method`` and
``Class.method`` (with base classes), relative imports, and re-exports through ``__init__``.
Nothing is imported or run: modules are matched to files by their dotted path.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Optional

from ..codefacts import ClassInfo, CodeFacts, FunctionFacts, Import
from ..graph import OwnershipGraph, StatementInfo

_MAX_HOPS = 4          # import re-exports followed before giving up


@dataclass(frozen=True, order=True)
class FunctionRef:
    path: str
    name: str           # qualified: Class.method, outer.inner

    def __str__(self) -> str:
        return f"{self.path}:{self.name}"


class CodeIndex:
    def __init__(self, og: OwnershipGraph):
        self.og = og
        self.service_of = og.service_of
        self.code: dict[str, CodeFacts] = {ff.path: ff.code for ff in og.facts if ff.code is not None}
        self.functions: dict[tuple[str, str], FunctionFacts] = {}
        self.classes: dict[tuple[str, str], ClassInfo] = {}
        self.imports: dict[str, dict[str, Import]] = {}
        self.modules: dict[str, list[str]] = defaultdict(list)
        self.by_name: dict[tuple[str, str], list[FunctionRef]] = defaultdict(list)   # (service, name)
        for path, code in sorted(self.code.items()):
            for f in code.functions:
                self.functions[(path, f.name)] = f
                self.by_name[(self.service_of.get(path, ""), f.name.rsplit(".", 1)[-1])].append(
                    FunctionRef(path, f.name))
            for c in code.classes:
                self.classes[(path, c.name)] = c
            self.imports[path] = {i.name: i for i in code.imports}
            for dotted in _module_names(path):
                self.modules[dotted].append(path)
        self.statements: dict[tuple[str, str], list[StatementInfo]] = defaultdict(list)
        for info in og.statements:
            self.statements[(info.path, info.statement.function)].append(info)

    # ------------------------------------------------------------------ lookups
    def function(self, ref: FunctionRef) -> Optional[FunctionFacts]:
        return self.functions.get((ref.path, ref.name))

    def statements_at(self, path: str, function: str, line: int) -> list[StatementInfo]:
        return [s for s in self.statements.get((path, function), []) if s.statement.line == line]

    def service(self, path: str) -> str:
        return self.service_of.get(path, "")

    # ------------------------------------------------------------------ resolution
    def resolve(self, ref: str, path: str, scope: str = "") -> Optional[FunctionRef]:
        """The definition ``ref`` (as written in ``path`` inside function ``scope``) names."""
        if not ref or path not in self.code:
            return None
        here = self.functions.get((path, scope)) if scope else None
        if here is not None and ref in here.params:
            return None                                 # a callable passed in: unknown
        if (path, ref) in self.functions:               # Class.method, or a top-level function
            return FunctionRef(path, ref)
        parts = ref.split(".")
        if not all(p.isidentifier() for p in parts):
            return self._by_name(ref, path)             # a registered name: "reserve-credit"
        head, rest = parts[0], parts[1:]
        if head in ("self", "cls"):
            cls = self._class_of(path, scope)
            return self._method(path, cls, rest[0], 0) if cls and len(rest) == 1 else None
        if not rest:
            s = scope
            while s:                                    # a function nested in the scope
                if (path, f"{s}.{head}") in self.functions:
                    return FunctionRef(path, f"{s}.{head}")
                s = s.rpartition(".")[0]
            imp = self.imports.get(path, {}).get(head)
            if imp is not None:      # imported: from there or not at all (maybe a library)
                return self._via_import(imp, path, [], 0)
            return self._by_name(head, path)
        if (path, head) in self.classes and len(rest) == 1:
            return self._method(path, head, rest[0], 0)
        imp = self.imports.get(path, {}).get(head)
        if imp is not None:
            return self._via_import(imp, path, rest, 0)
        return None

    def _by_name(self, name: str, path: str) -> Optional[FunctionRef]:
        """A function registered or called by its name (Temporal activity names): the only
        function of that name (or with ``name="..."`` in its decorator) in the same service."""
        service = self.service(path)
        found = set(self.by_name.get((service, name), []))
        if not found:
            for (p, qual), f in self.functions.items():
                if self.service(p) == service and any(f'name="{name}"' in d or f"name='{name}'" in d
                                                     for d in f.decorators):
                    found.add(FunctionRef(p, qual))
        return next(iter(found)) if len(found) == 1 else None

    def _via_import(self, imp: Import, path: str, rest: list[str], hops: int) -> Optional[FunctionRef]:
        if hops > _MAX_HOPS:
            return None
        if imp.attr:
            module_path = self.module_path(imp.module, path, imp.level)
            if module_path:
                found = self._in_module(module_path, [imp.attr, *rest], hops + 1)
                if found:
                    return found
            sub = self.module_path(".".join(p for p in (imp.module, imp.attr) if p), path, imp.level)
            return self._in_module(sub, rest, hops + 1) if sub and rest else None
        for k in range(len(rest), -1, -1):               # import a.b [as x]; x.c.f(): longest module
            module_path = self.module_path(".".join([imp.module, *rest[:k]]), path, 0)
            if module_path and k < len(rest):
                return self._in_module(module_path, rest[k:], hops + 1)
        return None

    def _in_module(self, path: str, names: list[str], hops: int) -> Optional[FunctionRef]:
        if not names or path not in self.code:
            return None
        qual = ".".join(names)
        if (path, qual) in self.functions:
            return FunctionRef(path, qual)
        if len(names) == 2 and (path, names[0]) in self.classes:
            return self._method(path, names[0], names[1], hops)
        imp = self.imports.get(path, {}).get(names[0])     # re-exported from another module
        if imp is not None:
            return self._via_import(imp, path, names[1:], hops + 1)
        return None

    def _class_of(self, path: str, scope: str) -> str:
        s = scope
        while s:
            if (path, s) in self.classes:
                return s
            s = s.rpartition(".")[0]
        return ""

    def _method(self, path: str, cls: str, name: str, hops: int) -> Optional[FunctionRef]:
        if (path, f"{cls}.{name}") in self.functions:
            return FunctionRef(path, f"{cls}.{name}")
        info = self.classes.get((path, cls))
        if info is None or hops > _MAX_HOPS:
            return None
        for base in info.bases:
            target = self._class_ref(path, base, hops + 1)
            if target:
                found = self._method(target[0], target[1], name, hops + 1)
                if found:
                    return found
        return None

    def _class_ref(self, path: str, dotted: str, hops: int) -> Optional[tuple[str, str]]:
        if (path, dotted) in self.classes:
            return path, dotted
        head, _, rest = dotted.partition(".")
        imp = self.imports.get(path, {}).get(head)
        if imp is None or hops > _MAX_HOPS:
            return None
        names = [n for n in ([imp.attr] if imp.attr else []) + (rest.split(".") if rest else []) if n]
        module_path = self.module_path(imp.module, path, imp.level)
        if module_path and names and (module_path, ".".join(names)) in self.classes:
            return module_path, ".".join(names)
        return None

    def module_path(self, module: str, from_path: str, level: int) -> Optional[str]:
        """The analysed file a module name refers to from ``from_path``."""
        if level:
            base = PurePosixPath(from_path).parent
            for _ in range(level - 1):
                base = base.parent
            stem = base.joinpath(*module.split(".")) if module else base
            for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
                if candidate in self.code:
                    return candidate
            return None
        paths = self.modules.get(module)
        if not paths:
            return None
        if len(paths) == 1:
            return paths[0]
        service = self.service(from_path)
        here = PurePosixPath(from_path).parts

        def closeness(p: str) -> tuple:
            common = 0
            for a, b in zip(PurePosixPath(p).parts, here):
                if a != b:
                    break
                common += 1
            return (self.service(p) != service, -common, p)

        return min(paths, key=closeness)


def _module_names(path: str) -> list[str]:
    """Dotted names a file can be imported as: every suffix of its package path."""
    p = PurePosixPath(path)
    if p.suffix != ".py":
        return []
    parts = list(p.parent.parts) + ([] if p.stem == "__init__" else [p.stem])
    return [".".join(parts[i:]) for i in range(len(parts)) if all(x.isidentifier() for x in parts[i:])]
