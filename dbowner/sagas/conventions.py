"""Names dbowner reads meaning from, as data: idempotency keys, undo verbs, command and query
verbs, HTTP methods, outbox and saga-bookkeeping tables. tests/test_sagas_conventions.py covers
each table."""
from __future__ import annotations

import re

# A lookup keyed by one of these (case and underscores ignored, any prefix) is an idempotency
# guard: saga_id, idempotency_key, request_id, message_id, event_id, operation_id ...
IDEMPOTENCY_KEY_SUFFIXES = (
    "sagaid", "idempotencykey", "idempotencyid", "idempotencytoken", "requestid", "messageid",
    "eventid", "operationid", "commandid", "dedupkey", "dedupid", "deduplicationid",
    "deduplicationkey",
)

# Verb pairs whose second undoes the first (either direction): debit_account / credit_account.
ANTONYMS = (
    ("debit", "credit"), ("reserve", "release"), ("reserve", "unreserve"), ("create", "delete"),
    ("create", "cancel"), ("create", "remove"), ("book", "cancel"), ("book", "unbook"),
    ("charge", "refund"), ("charge", "void"), ("authorize", "void"), ("authorize", "release"),
    ("capture", "refund"), ("pay", "refund"), ("freeze", "unfreeze"), ("lock", "unlock"),
    ("hold", "release"), ("add", "remove"), ("allocate", "deallocate"), ("allocate", "release"),
    ("approve", "reject"), ("approve", "revoke"), ("open", "close"), ("insert", "delete"),
    ("place", "cancel"), ("start", "cancel"), ("start", "abort"), ("assign", "unassign"),
    ("enable", "disable"), ("activate", "deactivate"), ("register", "unregister"),
    ("register", "deregister"), ("subscribe", "unsubscribe"), ("grant", "revoke"),
    ("increment", "decrement"), ("increase", "decrease"), ("schedule", "unschedule"),
    ("schedule", "cancel"), ("issue", "revoke"), ("issue", "void"), ("issue", "cancel"),
    ("ship", "cancel"), ("confirm", "cancel"), ("apply", "revert"), ("withdraw", "deposit"),
    ("mark", "unmark"), ("publish", "unpublish"), ("link", "unlink"), ("attach", "detach"),
    ("enroll", "unenroll"), ("transfer", "reverse"), ("provision", "deprovision"),
    ("suspend", "resume"), ("block", "unblock"), ("hide", "unhide"), ("archive", "unarchive"),
)
# Antonym pairs that, as bare one-word calls with no object (f.open()/f.close(), lock.acquire()/
# lock.release(), thread.start()/...), are resource handling, not a step and its compensation.
# Named ones still pair: open_account / close_account, lock_seat / unlock_seat.
RESOURCE_PAIRS = frozenset({
    ("open", "close"), ("lock", "unlock"), ("acquire", "release"), ("start", "cancel"),
    ("start", "abort"), ("enable", "disable"),
    ("add", "remove"), ("attach", "detach"), ("link", "unlink"), ("register", "unregister"),
    ("subscribe", "unsubscribe"), ("suspend", "resume"), ("hide", "unhide"), ("block", "unblock"),
})
# Verbs that undo whatever the step with the same object did: cancel_shipment undoes
# create_shipment, ship_order ... (the rest of the name must match).
UNDO_VERBS = frozenset({
    "undo", "compensate", "revert", "rollback", "cancel", "reverse", "refund", "release", "void",
    "delete", "remove", "unreserve", "unlock", "unfreeze", "restore", "abort", "rescind", "retract",
    "deallocate", "unbook", "unassign", "unregister", "deregister", "reject", "decline", "discard",
})
# Prefixes/suffixes that name a compensation after its step: undo_reserve, reserve_compensation.
UNDO_PREFIXES = ("undo", "compensate", "revert", "rollback", "cancel", "reverse", "compensation")
UNDO_SUFFIXES = ("compensation", "undo", "rollback", "compensate", "revert")

# What an unresolved call does, by its first word (a call into another service).
COMMAND_VERBS = frozenset({
    "create", "add", "insert", "update", "delete", "remove", "reserve", "release", "charge", "refund",
    "debit", "credit", "book", "cancel", "place", "approve", "reject", "ship", "send", "transfer",
    "allocate", "deallocate", "hold", "capture", "pay", "issue", "register", "submit", "publish",
    "lock", "unlock", "freeze", "unfreeze", "apply", "assign", "save", "store", "record", "open",
    "close", "commit", "schedule", "confirm", "authorize", "void", "withdraw", "deposit", "grant",
    "revoke", "enable", "disable", "activate", "deactivate", "increment", "decrement", "provision",
    "deprovision", "anonymize", "anonymise", "erase", "purge", "suspend", "resume", "block", "unblock",
    "enroll", "subscribe", "unsubscribe", "redeem", "unreserve", "undo", "compensate", "revert",
})
QUERY_VERBS = frozenset({
    "get", "fetch", "find", "list", "read", "load", "check", "validate", "verify", "is", "has",
    "count", "search", "lookup", "query", "calculate", "compute", "estimate", "quote", "exists",
})

HTTP_COMMANDS = frozenset({"post", "put", "patch", "delete"})
HTTP_QUERIES = frozenset({"get", "head", "options"})
HTTP_RECEIVER = re.compile(r"requests|httpx|aiohttp|http|client|api|session|svc|service|gateway", re.I)

OUTBOX_TABLE = re.compile(r"(^|_)outbox($|_)|outbox", re.I)
# The saga's own bookkeeping (saga_state, saga_log): writing it does not make a step a
# state change of the business, and it is not what compensations undo.
SAGA_BOOKKEEPING_TABLE = re.compile(r"^sagas?($|_)|_sagas?$", re.I)


def is_idempotency_key(name: str) -> bool:
    n = name.lower().replace("_", "").replace("-", "")
    return "idempotency" in n or n.endswith(IDEMPOTENCY_KEY_SUFFIXES)


def words(name: str) -> list[str]:
    """``reserveCredit`` / ``_reserve_credit`` / ``/accounts/{id}/debits`` -> lower-case words."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", name.lower()) if w]


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def undoes(comp: str, step: str) -> bool:
    """Does a function named ``comp`` read as the compensation of one named ``step``?"""
    c = [_singular(w) for w in words(comp)]
    s = [_singular(w) for w in words(step)]
    if not c or not s or c == s:
        return False
    if c[0] in UNDO_PREFIXES and c[1:] and c[1:] == s[:len(c) - 1]:
        return True      # undo_reserve_stock, compensate_debit (for debit_account)
    if c[-1] in UNDO_SUFFIXES and c[:-1] == s:
        return True
    n = min(len(c), len(s))
    diff = [i for i in range(n) if c[i] != s[i]]
    if len(diff) != 1:
        return False
    i = diff[0]
    cv, sv = c[i], s[i]
    if len(c) == len(s) == 1 and ((sv, cv) in RESOURCE_PAIRS or (cv, sv) in RESOURCE_PAIRS):
        return False    # f.open() / f.close(): resource handling, not a compensation
    if (sv, cv) in _ANTONYM_SET or (cv, sv) in _ANTONYM_SET or cv in ("un" + sv, "de" + sv):
        return True     # debit/credit, reserve_credit/release_credit_hold, lock/unlock
    # a generic undo verb (cancel, delete, release...) must name the same thing: same length and
    # at least one word in common (cancel_shipment for create_shipment, not delete_frame for stop)
    return cv in UNDO_VERBS and len(c) == len(s) and len(c) > 1


_ANTONYM_SET = frozenset(ANTONYMS)


def verb_kind(name: str) -> str:
    """"command", "query" or "" from the first word of a function name."""
    w = words(name)
    if not w:
        return ""
    first = w[0]
    if first in COMMAND_VERBS:
        return "command"
    if first in QUERY_VERBS:
        return "query"
    return ""
