"""Database-level guards for evidence documents, behind the services' own checks.

- DELETE of a document whose ``retention_until`` is still in the future is refused.
- UPDATE may not change the file (content, size, SHA-256) or shorten the retention lock.

PostgreSQL: a trigger function (migration 0003). SQLite: triggers that also call ``audit_guard()``, the
function ``portal/audit/db.py`` registers on each connection, so ``audit.db.maintenance()`` (restores, the
test suite's table flushes) lifts these guards as it lifts the audit trail's, and nothing else does.
"""

from __future__ import annotations

TABLE = "evidence_document"

POSTGRES_INSTALL = f"""
CREATE OR REPLACE FUNCTION evidence_document_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.retention_until > CURRENT_DATE THEN
            RAISE EXCEPTION 'evidence document % is under a retention lock until %', OLD.id, OLD.retention_until
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.content IS DISTINCT FROM OLD.content OR NEW.sha256 <> OLD.sha256 OR NEW.size <> OLD.size
       OR NEW.retention_until < OLD.retention_until THEN
        RAISE EXCEPTION 'evidence document %: the file is immutable and its retention lock cannot be shortened',
            OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER {TABLE}_guard BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION evidence_document_guard();
"""

POSTGRES_REMOVE = f"DROP TRIGGER IF EXISTS {TABLE}_guard ON {TABLE}; DROP FUNCTION IF EXISTS evidence_document_guard();"

SQLITE_INSTALL = [
    f"""CREATE TRIGGER {TABLE}_retention BEFORE DELETE ON {TABLE}
        WHEN OLD.retention_until > date('now') AND audit_guard() = 1
        BEGIN SELECT RAISE(ABORT, 'evidence document is under a retention lock'); END""",
    f"""CREATE TRIGGER {TABLE}_immutable BEFORE UPDATE ON {TABLE}
        WHEN (NEW.content IS NOT OLD.content OR NEW.sha256 IS NOT OLD.sha256 OR NEW.size IS NOT OLD.size
              OR NEW.retention_until < OLD.retention_until) AND audit_guard() = 1
        BEGIN SELECT RAISE(ABORT, 'evidence document: the file is immutable and its retention lock cannot be
        shortened'); END""",
]
SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {TABLE}_retention", f"DROP TRIGGER IF EXISTS {TABLE}_immutable"]
