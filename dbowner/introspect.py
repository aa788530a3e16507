"""Read a live PostgreSQL database's catalog and statistics into LiveFacts. Never writes.

One connection, one READ ONLY REPEATABLE READ transaction (one consistent snapshot of the catalog)
with a statement timeout, rolled back at the end. Only SELECTs on pg_catalog and pg_stat_statements
run. Each fact group is read under its own savepoint: a group the role may not read, or whose
extension is missing, becomes an entry in `LiveFacts.unavailable` and the others are still read.
The connection string is never printed: error messages have its password masked.
"""
from __future__ import annotations

import re
from typing import Any

from .livefacts import (
    FOREIGN_KEYS, KIND_NAMES, PRIVILEGES, RELATIONS, STATEMENTS, VIEW_DEPENDENCIES, ForeignKey, Grant,
    LiveFacts, Membership, Relation, Role, RuntimeStatement, ViewDependency,
)

APPLICATION_NAME = "dbowner verify"
MAX_STATEMENT_TEXT = 4000
# Statements that carry secrets and never touch a table: never kept, so never printed.
_SECRET_STATEMENT = re.compile(
    r"^\s*(?:CREATE|ALTER)\s+(?:ROLE|USER|GROUP|SERVER|USER\s+MAPPING)\b|\bPASSWORD\b\s*=?\s*'", re.I)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*(@)")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)
# Schemas that are PostgreSQL's own (pg_catalog, pg_toast, pg_temp_N, ...), never a service's.
_USER_SCHEMA = r"n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'"


class IntrospectError(Exception):
    """Cannot connect or read at all; the message is one line and holds no password."""


def mask_secrets(text: str, dsn: str = "") -> str:
    """`text` with the DSN's password (and any URL or key=value password) replaced by ***."""
    out = _KV_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***\2", text))
    for secret in _dsn_passwords(dsn):
        out = out.replace(secret, "***")
    return out


def _dsn_passwords(dsn: str) -> list[str]:
    found = [m.group(0)[m.group(0).index(":", 3) + 1:-1] for m in _URL_PASSWORD.finditer(dsn)]
    found += [m.group(2).strip("'") for m in _KV_PASSWORD.finditer(dsn)]
    try:
        from psycopg.conninfo import conninfo_to_dict
        password = conninfo_to_dict(dsn).get("password")
        if password:
            found.append(str(password))
    except Exception:   # noqa: BLE001 - an unparsable DSN still gets the regex masking
        pass
    return [s for s in found if s and s != "***"]


def collect(dsn: str, *, statement_timeout_ms: int = 30_000, connect_timeout_s: int = 10) -> LiveFacts:
    """Every fact group dbowner verify judges, from the database `dsn` names."""
    try:
        import psycopg
    except ImportError:
        raise IntrospectError("dbowner verify needs psycopg 3: pip install 'dbowner[verify]'") from None
    try:
        conn = psycopg.connect(dsn, autocommit=False, connect_timeout=connect_timeout_s,
                               application_name=APPLICATION_NAME)
    except Exception as e:  # noqa: BLE001 - every connection failure is one line for the user
        raise IntrospectError(f"cannot connect: {_one_line(mask_secrets(str(e), dsn))}") from None
    try:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true),"
                        " set_config('search_path', 'pg_catalog', true)",
                        (f"{statement_timeout_ms}ms", f"{statement_timeout_ms}ms"))
            facts = _read_all(conn, cur)
        conn.rollback()
        return facts.sort()
    except psycopg.Error as e:
        raise IntrospectError(f"cannot read the catalog: {_one_line(mask_secrets(str(e), dsn))}") from None
    finally:
        conn.close()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _read_all(conn: Any, cur: Any) -> LiveFacts:
    cur.execute("SELECT current_database(), current_setting('server_version'), current_user,"
                " current_setting('server_version_num')::int")
    database, version, user, version_num = cur.fetchone()
    facts = LiveFacts(database=database, server_version=version, connected_as=user)
    readers = ((RELATIONS, _relations), (FOREIGN_KEYS, _foreign_keys), (VIEW_DEPENDENCIES, _view_dependencies),
               (PRIVILEGES, _privileges), (STATEMENTS, _statements))
    for group, reader in readers:
        try:
            with conn.transaction():          # a savepoint: one unreadable group spoils nothing else
                reason = reader(cur, facts, version_num)
        except Exception as e:  # noqa: BLE001 - insufficient privilege, timeout, missing extension ...
            reason = _reason(e)
        if reason:
            facts.unavailable[group] = reason
    return facts


def _reason(e: Exception) -> str:
    sqlstate = getattr(e, "sqlstate", None) or ""
    text = _one_line(str(e))
    if sqlstate == "42501":
        return f"permission denied ({text})"
    if sqlstate == "57014":
        return f"statement timeout ({text})"
    return text


def _relations(cur: Any, facts: LiveFacts, _v: int) -> str:
    cur.execute(f"""
        SELECT n.nspname, c.relname, c.relkind::text, pg_get_userbyid(c.relowner),
               COALESCE((SELECT pn.nspname || '.' || pc.relname
                         FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
                         JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                         WHERE i.inhrelid = c.oid AND c.relispartition LIMIT 1), '')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_USER_SCHEMA}
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')""")
    facts.relations = [Relation(s, n, KIND_NAMES[k], o, p) for s, n, k, o, p in cur.fetchall()]
    return ""


def _foreign_keys(cur: Any, facts: LiveFacts, _v: int) -> str:
    # conparentid <> 0: the copy of a partitioned table's key on each partition; the parent's is enough.
    cur.execute(f"""
        SELECT n.nspname, c.relname, con.conname, rn.nspname, rc.relname
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_class rc ON rc.oid = con.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
        WHERE con.contype = 'f' AND con.conparentid = 0 AND {_USER_SCHEMA}""")
    facts.foreign_keys = [ForeignKey(*row) for row in cur.fetchall()]
    return ""


def _view_dependencies(cur: Any, facts: LiveFacts, _v: int) -> str:
    cur.execute(f"""
        SELECT DISTINCT n.nspname, v.relname, tn.nspname, t.relname
        FROM pg_rewrite r
        JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace
        JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
             AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'n'
        JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
        WHERE v.relkind IN ('v', 'm') AND t.oid <> v.oid AND {_USER_SCHEMA}
          AND tn.nspname <> 'information_schema' AND tn.nspname NOT LIKE 'pg\\_%'""")
    facts.view_dependencies = [ViewDependency(*row) for row in cur.fetchall()]
    return ""


def _privileges(cur: Any, facts: LiveFacts, version_num: int) -> str:
    # The ACLs themselves (pg_class.relacl, pg_attribute.attacl), readable by any role; unlike
    # information_schema.role_table_grants they are not limited to the connecting role's own grants.
    # A NULL relacl means the default: the owner holds every privilege, PUBLIC none.
    cur.execute(f"""
        SELECT n.nspname, c.relname, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
               a.privilege_type, ''
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
             LATERAL aclexplode(COALESCE(c.relacl, acldefault('r', c.relowner))) a
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_USER_SCHEMA}
        UNION
        SELECT n.nspname, c.relname, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
               a.privilege_type, att.attname
        FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
             LATERAL aclexplode(att.attacl) a
        WHERE att.attacl IS NOT NULL AND att.attnum > 0 AND NOT att.attisdropped
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_USER_SCHEMA}""")
    facts.grants = [Grant(*row) for row in cur.fetchall()]
    cur.execute("SELECT rolname, rolsuper, rolcanlogin FROM pg_roles")
    facts.roles = [Role(*row) for row in cur.fetchall()]
    if version_num >= 160000:
        cur.execute("SELECT pg_get_userbyid(member), pg_get_userbyid(roleid), inherit_option, set_option"
                    " FROM pg_auth_members")
    else:   # before 16 a member may always SET ROLE, and inherits unless the member is NOINHERIT
        cur.execute("SELECT pg_get_userbyid(m.member), pg_get_userbyid(m.roleid), r.rolinherit, true"
                    " FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member")
    facts.memberships = [Membership(*row) for row in cur.fetchall()]
    return ""


def _statements(cur: Any, facts: LiveFacts, _v: int) -> str:
    cur.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                " WHERE e.extname = 'pg_stat_statements'")
    row = cur.fetchone()
    if row is None:
        return (f"the pg_stat_statements extension is not installed in database {facts.database} "
                "(CREATE EXTENSION pg_stat_statements, with the library in shared_preload_libraries)")
    cur.execute("SELECT pg_has_role('pg_read_all_stats', 'USAGE') OR"
                " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")
    if not cur.fetchone()[0]:
        return (f"role {facts.connected_as} may not read other roles' statements "
                f"(GRANT pg_read_all_stats TO {facts.connected_as})")
    from psycopg import sql
    cur.execute(sql.SQL("""
        SELECT s.queryid::text, pg_get_userbyid(s.userid), sum(s.calls)::bigint, min(s.query)
        FROM {}.pg_stat_statements s
        WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        GROUP BY 1, 2""").format(sql.Identifier(row[0])))
    kept = []
    for queryid, role, calls, text in cur.fetchall():
        if queryid is None or text is None or text == "<insufficient privilege>":
            facts.hidden_statements += 1
            continue
        if _SECRET_STATEMENT.search(text):
            continue
        kept.append(RuntimeStatement(queryid, role, int(calls), text[:MAX_STATEMENT_TEXT]))
    facts.statements = kept
    return ""
