"""What a function does, following its calls into the repository: the writes it makes (each
with whether it is safe to repeat and what guards it), the remote commands it sends (HTTP
POST/PUT/PATCH/DELETE, broker publishes) and the calls whose bodies are not in the repository.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from ..codefacts import Call, FunctionFacts, Gate, OrmWrite
from ..extract.pyast import is_db_call, last_part, receiver_of
from ..extract.pyast import is_trivial as is_trivial_call
from ..graph import StatementInfo
from ..model import WRITE
from . import conventions as cv
from .index import CodeIndex, FunctionRef

MAX_DEPTH = 5

# ORM operations by shape: repeatable, or not (and why).
_ORM_IDEMPOTENT = frozenset({"get_or_create", "update_or_create", "merge", "upsert", "bulk_create_ignore",
                             "update", "delete",
                             "save"})    # obj.save() of an object of unknown origin: not judged
_ORM_INSERTS = frozenset({"add", "create", "bulk_create", "insert"})


@dataclass(frozen=True)
class Write:
    path: str
    function: str
    line: int
    code: str               # SQL excerpt or the ORM call
    table: str              # written table(s), or the model
    insert: bool            # a plain insert (vs an update)
    idempotent: bool        # safe to repeat by its own shape
    reason: str             # why it is not: "relative update (balance = balance …)", "plain INSERT"
    guard: str              # what makes it safe to repeat anyway ("" if nothing)
    outbox: bool            # writes an outbox table / model
    bookkeeping: bool       # only the saga's own state (saga_state, saga_log)
    keys: tuple[str, ...] = ()   # idempotency-key-like columns it writes (for the hint)
    via: tuple[str, ...] = ()    # the call path from the function analysed to the writer

    @property
    def repeat_safe(self) -> bool:
        return self.idempotent or bool(self.guard)


@dataclass(frozen=True)
class Command:
    path: str
    line: int
    what: str               # "POST /credits", "producer.send (kafka)"
    publish: bool = False
    via: tuple[str, ...] = ()    # the call path from the function analysed to the sender


@dataclass
class Effects:
    writes: list[Write] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    unknown_commands: list[str] = field(default_factory=list)   # unresolved calls named like commands

    def extend(self, other: "Effects", caller: str = "") -> None:
        self.writes.extend(replace(w, via=(caller, *w.via)) if caller else w for w in other.writes)
        self.commands.extend(replace(c, via=(caller, *c.via)) if caller else c for c in other.commands)
        self.unknown_commands.extend(other.unknown_commands)

    @property
    def changes_state(self) -> bool:
        return (any(not w.bookkeeping for w in self.writes) or bool(self.commands)
                or bool(self.unknown_commands))


def http_method(call: Call) -> str:
    """post/put/patch/delete/get/... when the call is an HTTP request, else ""."""
    last, recv = last_part(call.callee), receiver_of(call.callee)
    if last not in cv.HTTP_COMMANDS and last not in cv.HTTP_QUERIES:
        return ""
    if not recv or cv.HTTP_RECEIVER.search(recv) is None:
        return ""
    if call.literal or recv.split(".")[-1] in ("requests", "httpx"):
        return last
    return ""


def call_label(call: Call) -> str:
    method = http_method(call)
    if method:
        return f"{method.upper()} {call.literal}" if call.literal else f"{call.callee}(…)"
    return call.runs or call.callee


class EffectAnalyzer:
    def __init__(self, index: CodeIndex):
        self.index = index
        self._cache: dict[tuple[FunctionRef, str], Effects] = {}

    def of(self, ref: FunctionRef, guard: str = "") -> Effects:
        return self._walk(ref, guard, (), 0)

    def _walk(self, ref: FunctionRef, inherited: str, stack: tuple[FunctionRef, ...], depth: int) -> Effects:
        key = (ref, inherited)
        if key in self._cache:
            return self._cache[key]
        f = self.index.function(ref)
        out = Effects()
        if f is None:
            return out
        here = stack + (ref,)
        via = (f.name,)
        orm_lines = {w.line for w in f.orm_writes}
        for info in self.index.statements.get((ref.path, f.name), []):
            w = self.sql_write(ref, f, info, inherited, via)
            if w:
                out.writes.append(w)
        for ow in f.orm_writes:
            out.writes.append(self._orm_write(ref, f, ow, inherited, via))
        publish_lines = {p.line for p in f.publishes}
        for p in f.publishes:
            out.commands.append(Command(ref.path, p.line, f"{p.callee} ({p.broker})", True, via))
        for c in f.calls:
            if c.line in publish_lines or c.line in orm_lines or is_db_call(c.callee):
                continue
            target = c.runs or c.callee
            if not c.runs and is_trivial_call(c.callee):
                continue
            method = http_method(c)
            if method:
                if method in cv.HTTP_COMMANDS:
                    out.commands.append(Command(ref.path, c.line, call_label(c), False, via))
                continue
            r = self.index.resolve(target, ref.path, f.name)
            if r is not None:
                if r not in here and depth < MAX_DEPTH:
                    guard = self.guard_at(ref, f, c.line, insert=False) or inherited
                    out.extend(self._walk(r, guard, here, depth + 1), caller=f.name)
            elif cv.verb_kind(last_part(target)) == "command":
                out.unknown_commands.append(target)
        self._cache[key] = out
        return out

    # ------------------------------------------------------------------ writes
    def sql_write(self, ref: FunctionRef, f: FunctionFacts, info: StatementInfo, inherited: str,
                  via: tuple[str, ...]) -> Optional[Write]:
        """The write a SQL statement of ``f`` makes, classified; None if it writes nothing."""
        st = info.statement
        written = sorted({str(a.access.table) for a in info.accesses if a.access.role == WRITE})
        if not written or st.kind not in ("insert", "update", "delete", "merge", "truncate"):
            return None
        d = st.detail
        idempotent, reason, own_guard, insert = True, "", "", False
        keys: tuple[str, ...] = ()
        if st.kind == "insert" and d is not None:
            keys = tuple(c for c in d.columns if cv.is_idempotency_key(c))
            if d.on_conflict == "update" and d.self_referencing:
                idempotent, reason = False, f"an upsert whose update reads {_cols(d.self_referencing)} itself"
            elif not d.on_conflict and not d.not_exists:
                idempotent, reason, insert = False, "a plain INSERT without conflict handling", True
        elif st.kind == "update" and d is not None and d.self_referencing:
            idempotent = False
            reason = "a relative update (" + ", ".join(f"{c} = {c} …" for c in d.self_referencing) + ")"
            keyed = [c for c in d.where_equals if cv.is_idempotency_key(c)]
            transition = [c for c in d.where_pinned if c in d.columns]
            if keyed:
                own_guard = f"its WHERE is keyed by {keyed[0]}"
            elif transition:
                own_guard = f"its WHERE pins {transition[0]}, which the SET changes (a state transition)"
        guard = own_guard or self.guard_at(ref, f, st.line, insert=insert) or inherited
        return Write(
            path=ref.path, function=f.name, line=st.line, code=st.text, table=", ".join(written),
            insert=insert, idempotent=idempotent, reason=reason, guard=guard,
            outbox=any(cv.OUTBOX_TABLE.search(t.rsplit(".", 1)[-1]) for t in written),
            bookkeeping=all(cv.SAGA_BOOKKEEPING_TABLE.search(t.rsplit(".", 1)[-1]) for t in written),
            keys=keys, via=via,
        )

    def _orm_write(self, ref: FunctionRef, f: FunctionFacts, ow: OrmWrite, inherited: str,
                   via: tuple[str, ...]) -> Write:
        insert = ow.op in _ORM_INSERTS
        idempotent = ow.op in _ORM_IDEMPOTENT
        reason = ""
        if insert:
            reason = f"a plain insert ({ow.op}) without conflict handling"
        elif not idempotent:
            reason = "a relative update (" + ", ".join(f"{c} = {c} …" for c in ow.columns) + ")"
        model_words = cv.words(ow.model)
        guard = self.guard_at(ref, f, ow.line, insert=insert) or inherited
        return Write(
            path=ref.path, function=f.name, line=ow.line, code=ow.text,
            table=f"model {ow.model}" if ow.model else "an ORM model", insert=insert,
            idempotent=idempotent, reason=reason, guard=guard,
            outbox="outbox" in model_words, bookkeeping=bool(model_words) and model_words[0] == "saga",
            via=via,
        )

    # ------------------------------------------------------------------ guards
    def guard_at(self, ref: FunctionRef, f: FunctionFacts, line: int, insert: bool) -> str:
        """What in ``f`` makes the code at ``line`` run at most once per saga/message id."""
        for g in f.gates:
            if g.line >= line:
                continue
            how = self._keyed(ref, f, g)
            if not how:
                continue
            kind, key = how
            found_ok = ("found", "") if kind == "lookup" else ("missing", "")
            run_ok = ("missing", "") if kind == "lookup" else ("found", "")
            if g.exits and g.end_line < line and g.polarity in found_ok:
                what = "a lookup" if kind == "lookup" else "an INSERT … ON CONFLICT DO NOTHING"
                return f"{what} keyed by {key} returns early on line {g.line}"
            if not g.exits and g.body_start <= line <= g.body_end and g.polarity in run_ok:
                what = "a lookup" if kind == "lookup" else "an INSERT … ON CONFLICT DO NOTHING"
                return f"it runs only when {what} keyed by {key} (line {g.line}) says it is new"
        if insert:
            for start, end in f.unique_catches:
                if start <= line <= end:
                    return "a unique violation is caught (the retry finds the row already there)"
        return ""

    def _keyed(self, ref: FunctionRef, f: FunctionFacts, g: Gate) -> Optional[tuple[str, str]]:
        """("lookup" | "claim", key) when the gate's call is keyed by an idempotency key."""
        statements = [s for line in g.call_lines for s in self.index.statements_at(ref.path, f.name, line)]
        for s in statements:
            d = s.statement.detail
            if d is None:
                continue
            if s.statement.kind == "select":
                key = next((c for c in d.where_equals if cv.is_idempotency_key(c)), "")
                if key:
                    return "lookup", key
            elif s.statement.kind == "insert" and d.on_conflict == "nothing":
                key = next((c for c in d.columns if cv.is_idempotency_key(c)), "")
                if key:
                    return "claim", key
        if any(s.statement.kind != "select" for s in statements):
            return None      # a write's result (rowcount) is a business check, not a lookup
        key = next((n for n in g.names if cv.is_idempotency_key(n)), "")
        return ("lookup", key) if key else None


def _cols(cols: tuple[str, ...]) -> str:
    return ", ".join(cols)
