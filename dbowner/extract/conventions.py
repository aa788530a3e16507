"""Code shapes dbowner recognises, as data: supporting a new saga library, broker client or ORM
call is a new row here, not a new code path. The extractors (functions.py, saga_shapes.py,
writes.py, pyast.py) read these tables; tests/test_conventions.py has a sample for every row.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# --------------------------------------------------------------------------- declared saga steps

ACTION_KEYWORDS = ("action", "func", "function", "operation", "invoke", "execute", "forward", "do")
COMPENSATION_KEYWORDS = ("compensation", "compensate", "compensator", "compensating_action",
                         "compensate_with", "rollback", "undo", "on_rollback")
PIVOT_KEYWORDS = ("pivot",)
NAME_KEYWORDS = ("name", "step_name")
STEP_KEYWORDS = ("step", "for_step", "of")          # @compensate(step="reserve")
CHAIN_MODIFIERS = frozenset({"with_compensation", "on_failure", "compensate_with", "with_compensator",
                             "on_compensate", "compensation", "with_rollback", "on_rollback"})


@dataclass(frozen=True)
class PairConvention:
    """One way code declares a saga step together with its compensation.

    form ``call``: the call declares a step: ``add_step(action, compensation)``, ``SagaStep(...)``.
      A leading string argument is the step's name. A compensation may also come from a chained
      modifier right after it: ``.step(action).with_compensation(undo)``.
    form ``step-decorator``: decorates the step function and names its compensation.
    form ``compensation-decorator``: decorates the compensation and names its step.
    """

    label: str                      # shown by `dbowner sagas`
    form: str
    names: frozenset[str]           # callee or decorator name (its last dotted part)
    libraries: str = ""             # where the shape comes from, for maintainers
    generic: bool = False           # a common name (step, action): a positional compensation only
                                    # counts on a builder (x.step(a, b)) holding two steps or more
    needs_keyword: bool = False     # the compensation must come from a keyword or a chained
                                    # modifier (.with_compensation(undo)), never a positional arg


PAIR_CONVENTIONS: tuple[PairConvention, ...] = (
    PairConvention("add_step(action, compensation)", "call", frozenset({"add_step"}),
                   "pysagas SagaBuilder, OrchestrationBuilder and similar builders"),
    PairConvention("action(action, compensation)", "call", frozenset({"action"}),
                   "saga_py SagaBuilder", generic=True),
    PairConvention("step(action, compensation)", "call", frozenset({"step"}),
                   "simple_saga Saga.step, fluent .step(...).with_compensation(...)", generic=True),
    PairConvention("invoke(action).with_compensation(undo)", "call",
                   frozenset({"invoke", "invoke_local", "invoke_participant"}),
                   "Eventuate-style step().invoke_participant(...).with_compensation(...)", needs_keyword=True),
    PairConvention("SagaStep(action, compensation)", "call",
                   frozenset({"SagaStep", "SyncStep", "AsyncStep", "SyncSagaStep", "AsyncSagaStep",
                              "SagaAction"}),
                   "step objects in step lists"),
    PairConvention("Step(action, compensation)", "call", frozenset({"Step"}), "step objects", generic=True),
    PairConvention("@step(compensate=undo)", "step-decorator",
                   frozenset({"step", "saga_step", "saga_action"}), "decorator-based saga classes"),
    PairConvention("@compensate('step')", "compensation-decorator",
                   frozenset({"compensate", "compensates", "compensation_for", "compensation_of",
                              "compensation"}), "decorator-based saga classes"),
)


@dataclass(frozen=True)
class RegistrationConvention:
    """Compensations registered while the saga runs and run in reverse on failure (Temporal)."""

    label: str
    methods: frozenset[str]         # receiver.<method>(undo)
    needs_list: bool                # the receiver must be a list the function creates ([] )
    runners: frozenset[str]         # receiver.<method>() runs them; a list is also run by
                                    # iterating reversed(receiver) / receiver[::-1]


REGISTRATION_CONVENTIONS: tuple[RegistrationConvention, ...] = (
    RegistrationConvention("compensations.append(undo) + reversed(compensations)",
                           frozenset({"append"}), True, frozenset()),
    RegistrationConvention("saga.add_compensation(undo) + saga.compensate()",
                           frozenset({"add_compensation", "register_compensation"}), False,
                           frozenset({"compensate", "run_compensations", "compensate_all", "rollback"})),
)

# A helper a compensation list is handed to in an except handler: run_compensations(comps).
RUNNER_HELPER = re.compile(r"compensat|rollback|undo|revert|unwind", re.I)

# Calls that run another function as a unit of work: the first argument is what runs.
ACTIVITY_CALLS = frozenset({
    "execute_activity", "execute_activity_method", "start_activity", "start_activity_method",
    "execute_local_activity", "execute_local_activity_method", "start_local_activity",
    "execute_child_workflow", "start_child_workflow", "partial",
})

# --------------------------------------------------------------------------- brokers


@dataclass(frozen=True)
class PublishConvention:
    broker: str
    methods: frozenset[str]
    receiver: str = ""              # regex the receiver (dotted, lower-cased) must match; "" any
    keywords: frozenset[str] = frozenset()   # or: one of these keyword arguments is present
    not_receiver: str = ""          # regex of receivers that are not brokers (asyncio.sleep ...)


_BROKER_RECEIVER = (r"exchange|channel|produc|publisher|broker|bus\b|bus$|nats|(^|\.)nc$|(^|\.)js$|"
                    r"jetstream|redis|pubsub|kafka|rabbit|amqp|(^|\.|_)mq|stream|(^|\.|_)events?$|messag|"
                    r"sns|topic")

# The first row that matches names the broker.
PUBLISH_CONVENTIONS: tuple[PublishConvention, ...] = (
    PublishConvention("kafka", frozenset({"send", "send_and_wait", "produce"}), r"produc|kafka"),
    PublishConvention("rabbitmq", frozenset({"basic_publish"})),
    PublishConvention("sns", frozenset({"publish", "publish_batch"}), "",
                      frozenset({"TopicArn", "TargetArn", "PhoneNumber"})),
    PublishConvention("message broker", frozenset({"publish", "publish_message", "publish_event",
                                                   "publish_batch"}), _BROKER_RECEIVER),
    PublishConvention("sqs", frozenset({"send_message", "send_message_batch"}), r"sqs|queue"),
    PublishConvention("sqs", frozenset({"send_message", "send_message_batch"}), "",
                      frozenset({"QueueUrl"})),
    PublishConvention("eventbridge", frozenset({"put_events"})),
    PublishConvention("kinesis", frozenset({"put_record", "put_records"}), r"kinesis|firehose|stream"),
    PublishConvention("redis streams", frozenset({"xadd"})),
    PublishConvention("celery", frozenset({"send_task"})),
    PublishConvention("celery", frozenset({"delay", "apply_async"}), not_receiver=r"(^|\.)(asyncio|time)$"),
)

# --------------------------------------------------------------------------- ORM writes

SESSION_RECEIVER = re.compile(r"(^|[._])(session|db|uow|unit_of_work)$")
DJANGO_QUERYSET = re.compile(r"(^|\.)objects(\.|$)|\.(filter|exclude|select_for_update|all)\(")
UNIQUE_VIOLATIONS = frozenset({"IntegrityError", "UniqueViolation", "UniqueViolationError",
                               "DuplicateKeyError", "UniqueConstraintError", "DuplicateKey"})
# Calls after which a changed attribute is in the database: obj.x -= n only counts with one.
PERSIST_CALLS = frozenset({"save", "commit", "flush", "save_changes"})
PERSIST_SESSION_CALLS = frozenset({"add", "add_all", "merge"})     # only on a session-like receiver

# --------------------------------------------------------------------------- not saga steps

# Receivers whose calls are logging, metrics or tracing.
TRIVIAL_RECEIVER = re.compile(r"(^|\.)(_?log|_?logger|logging|structlog|metrics|statsd|tracer|span|"
                              r"console|warnings|json|math|time|datetime|uuid|random|re|os|sys)$", re.I)
# Plain function calls (no receiver) that are builtins, never steps: open(), len(), print() ...
TRIVIAL_BUILTINS = frozenset({
    "print", "len", "str", "int", "float", "bool", "dict", "list", "set", "tuple", "repr", "sorted",
    "isinstance", "issubclass", "getattr", "setattr", "hasattr", "delattr", "min", "max", "sum", "any",
    "all", "uuid4", "timedelta", "range", "enumerate", "zip", "format", "open", "iter", "next", "super",
    "type", "id", "hash", "input", "vars", "map", "filter", "reversed", "abs", "round", "divmod", "ord",
    "chr", "bytes", "bytearray", "callable", "locals", "globals", "exec", "eval", "compile", "object",
})
# Method names that are logging, clocks or sleeping on any receiver.
TRIVIAL_FUNCTIONS = frozenset({
    "sleep", "now", "utcnow", "info", "debug", "warning", "warn", "error", "exception", "critical",
})
# Methods on plain values (lists, dicts, strings): saga_state["steps"].append("debit").
VALUE_METHODS = frozenset({
    "append", "extend", "pop", "setdefault", "copy", "keys", "values", "items", "format", "join",
    "strip", "split", "lower", "upper", "encode", "decode", "dumps", "loads", "model_dump", "dict",
    "json", "raise_for_status",
})
# Database calls: inside an orchestrator they are steps only when a failure check tests them.
DB_METHODS = frozenset({
    "execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchone", "fetchall", "fetchmany",
    "fetch_one", "fetch_all", "fetch_val", "exec_driver_sql", "scalar", "scalars", "commit", "flush",
    "rollback", "add", "add_all", "refresh", "begin", "query", "raw",
})
DB_RECEIVER = re.compile(r"(^|\.|_)(db|conn|connection|cur|cursor|session|tx|txn|pool|engine|database)$")
# Saga bookkeeping, not a step: save_state(...), mark_step_done(...), saga_state.update(...).
BOOKKEEPING = re.compile(r"saga_?state|saga_?log|(save|update|persist|record|mark|set|store|advance|"
                         r"complete|finish)_\w*(state|progress|status|step)s?(_done|_completed)?$")
