"""Facts about code structure, for the saga, idempotency and dual-write rules.

Like the rest of the facts these are plain, frozen and JSON-serialisable, and they describe what
the code *is*, never whether it breaks a rule: a call and what it calls, an ``if`` that tests a
call's result, an ORM write and its shape, a saga-shaped construct and the convention it matched.
Extraction fills them per file; ``dbowner.sagas`` resolves names across files; checks judge.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class StatementDetail:
    """Idempotency-relevant shape of one SQL statement (INSERT/UPDATE/DELETE/MERGE/SELECT)."""

    on_conflict: str = ""                   # "", "nothing" (ON CONFLICT DO NOTHING, INSERT IGNORE,
                                            # OR IGNORE), "update" (DO UPDATE, ON DUPLICATE KEY
                                            # UPDATE, OR REPLACE, REPLACE INTO)
    not_exists: bool = False                # INSERT ... SELECT ... WHERE NOT EXISTS (...)
    columns: tuple[str, ...] = ()           # INSERT column list, or the columns an UPDATE (or an
                                            # ON CONFLICT DO UPDATE) assigns
    self_referencing: tuple[str, ...] = ()  # assigned columns whose new value reads the column
                                            # itself: balance = balance - $1
    where_equals: tuple[str, ...] = ()      # columns the top-level WHERE pins with = / IN / IS
    where_pinned: tuple[str, ...] = ()      # ... of those, pinned to a constant: status = 'pending'


@dataclass(frozen=True)
class Import:
    """One name an import binds in a module: ``from .x import y as z`` -> name z, module x, attr y."""

    name: str
    module: str
    attr: str = ""      # "" for ``import module [as name]``
    level: int = 0      # leading dots of a relative import


@dataclass(frozen=True)
class ClassInfo:
    name: str                     # qualified like functions: Outer.Inner
    line: int
    bases: tuple[str, ...] = ()   # as written (dotted names only)


@dataclass(frozen=True)
class Call:
    """A call as written in a function body."""

    line: int
    callee: str                 # dotted as written: "self.repo.debit", "workflow.execute_activity"
                                # ("" when the callee is not a dotted name, e.g. f()(x))
    awaited: bool = False
    runs: str = ""              # what it runs on our behalf: execute_activity(f, ...) -> "f",
                                # partial(f, x) -> "f", lambda: f(x) -> "f", "name" for a string
    literal: str = ""           # first string argument: URL path, topic, activity name
    args: tuple[str, ...] = ()  # positional arguments, unparsed and shortened (at most four)
    in_exit: bool = False       # inside a return or raise expression


@dataclass(frozen=True)
class Publish:
    """A call that hands a message to a broker (Kafka, RabbitMQ, NATS, Celery, SNS/SQS, ...)."""

    line: int
    callee: str
    broker: str                 # which row of the publish conventions matched


@dataclass(frozen=True)
class OrmWrite:
    """A write through an ORM, by the shape of the call (the checks decide what it means)."""

    line: int
    op: str                     # add, create, bulk_create, bulk_create_ignore, get_or_create,
                                # update_or_create, merge, insert, upsert, update,
                                # update_relative, augassign, delete
    text: str                   # the code, shortened: "session.add(payment)"
    model: str = ""             # model/class when visible: Payment
    columns: tuple[str, ...] = ()   # relative updates: the columns that read themselves


@dataclass(frozen=True)
class Gate:
    """An ``if`` whose test looks at the result of a call (a lookup, an insert ... RETURNING)."""

    line: int
    end_line: int
    exits: bool                     # the body ends in return/raise
    body_start: int
    body_end: int
    polarity: str                   # "found": true when the call returned something (if row,
                                    # if x is not None, .exists()); "missing": the opposite; "" unknown
    call_lines: tuple[int, ...]     # lines of the calls the test depends on (in the test, or bound
                                    # to a variable the test reads)
    names: tuple[str, ...] = ()     # identifiers, attributes and keyword names in those calls


@dataclass(frozen=True)
class FunctionFacts:
    name: str                       # qualified like Statement.function: Class.method, outer.inner
    line: int
    end_line: int
    is_async: bool = False
    decorators: tuple[str, ...] = ()
    calls: tuple[Call, ...] = ()    # every call in the body (not in nested defs or lambdas), in order
    publishes: tuple[Publish, ...] = ()
    orm_writes: tuple[OrmWrite, ...] = ()
    gates: tuple[Gate, ...] = ()
    unique_catches: tuple[tuple[int, int], ...] = ()   # try bodies whose handler catches a unique
                                                       # violation (IntegrityError, UniqueViolation)
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class FailurePath:
    """Code that runs when a saga step fails: the body of the ``if`` that checks its result, or
    an ``except`` handler around it."""

    line: int
    end_line: int
    kind: str                       # "if" or "except"
    calls: tuple[Call, ...] = ()


@dataclass(frozen=True)
class StepShape:
    line: int                       # where the step is declared (call, decorator, append)
    action: str                     # reference as written: "debit_account", "self.reserve",
                                    # "Class.method", the callee of an orchestrator call
    compensation: str = ""
    compensation_line: int = 0
    pivot: bool = False             # declared pivot=True
    name: str = ""                  # declared step name, if any
    literal: str = ""               # first string argument of the action call (URL path ...)
    args: tuple[str, ...] = ()
    failure_paths: tuple[int, ...] = ()   # indexes into SagaShape.failure_paths (orchestrators)


@dataclass(frozen=True)
class SagaShape:
    """A saga-shaped construct found in one file, before names are resolved across files."""

    style: str                      # orchestrator, compensation-list, declared
    name: str                       # function, variable or class that holds it
    line: int
    end_line: int
    function: str = ""              # qualified name of the function it is written in ("" module)
    convention: str = ""            # the convention row that matched, for reviewers
    steps: tuple[StepShape, ...] = ()
    failure_paths: tuple[FailurePath, ...] = ()
    registrations: tuple[Call, ...] = ()   # compensation-list style: compensations.append(undo)
                                           # calls, paired with steps after resolution


@dataclass(frozen=True)
class CodeFacts:
    """Everything the saga and dual-write rules need from one Python file."""

    imports: tuple[Import, ...] = ()
    classes: tuple[ClassInfo, ...] = ()
    functions: tuple[FunctionFacts, ...] = ()
    sagas: tuple[SagaShape, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dump(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "CodeFacts":
        return load(CodeFacts, d)


def dump(obj: Any) -> Any:
    """JSON-ready form of a facts dataclass, leaving out fields at their default (``load``
    restores them): the cache stays small."""
    if dataclasses.is_dataclass(obj):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.default is not dataclasses.MISSING and value == f.default:
                continue
            out[f.name] = dump(value)
        return out
    if isinstance(obj, (tuple, list)):
        return [dump(v) for v in obj]
    return obj


def load(cls: type[T], data: Any) -> T:
    """Rebuild a facts dataclass from ``dataclasses.asdict`` output that went through JSON
    (lists back to tuples, nested dicts back to dataclasses)."""
    return _converter(cls)(data)


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _identity(value: Any) -> Any:
    return value


@lru_cache(maxsize=None)
def _converter(tp: Any) -> Callable[[Any], Any]:
    """A function turning JSON data into `tp`, built once per type: warm runs load every file's
    facts from the cache, and inspecting type hints per value took most of their time."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _converter(inner[0]) if inner else _identity
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _converter(args[0])
            if item is _identity:
                return lambda v: None if v is None else tuple(v)
            return lambda v: None if v is None else tuple(item(x) for x in v)
        items = [_converter(a) for a in args]
        return lambda v: None if v is None else tuple(c(x) for c, x in zip(items, v))
    if dataclasses.is_dataclass(tp):
        fields: list[tuple[str, Callable[[Any], Any]]] = []

        def convert(value: Any) -> Any:
            if value is None:
                return None
            if not fields:    # resolved on first use, so a dataclass may refer to itself
                hints = _hints(tp)
                fields.extend((f.name, _converter(hints[f.name])) for f in dataclasses.fields(tp))
            return tp(**{name: c(value[name]) for name, c in fields if name in value})

        return convert
    return _identity
