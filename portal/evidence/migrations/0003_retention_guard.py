"""The database refuses deleting a document under its retention lock, and changing a document's file.

- DELETE of a document whose ``retention_until`` is still in the future is refused.
- UPDATE may not change the file (content, size, SHA-256) or shorten the retention lock.

PostgreSQL: a trigger function. SQLite: triggers that also call ``audit_guard()``, the function
``portal/audit/db.py`` registers on each connection, so ``audit.db.maintenance()`` (restores, the test suite's
table flushes) lifts these guards as it lifts the audit trail's, and nothing else does.

The SQL is written out here, not imported, so this migration does what it did when it was applied.
"""

from __future__ import annotations

from django.db import migrations

POSTGRES_INSTALL = """
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
CREATE TRIGGER evidence_document_guard BEFORE UPDATE OR DELETE ON evidence_document
    FOR EACH ROW EXECUTE FUNCTION evidence_document_guard();
"""

POSTGRES_REMOVE = ("DROP TRIGGER IF EXISTS evidence_document_guard ON evidence_document; "
                   "DROP FUNCTION IF EXISTS evidence_document_guard();")

SQLITE_INSTALL = [
    """CREATE TRIGGER evidence_document_retention BEFORE DELETE ON evidence_document
        WHEN OLD.retention_until > date('now') AND audit_guard() = 1
        BEGIN SELECT RAISE(ABORT, 'evidence document is under a retention lock'); END""",
    """CREATE TRIGGER evidence_document_immutable BEFORE UPDATE ON evidence_document
        WHEN (NEW.content IS NOT OLD.content OR NEW.sha256 IS NOT OLD.sha256 OR NEW.size IS NOT OLD.size
              OR NEW.retention_until < OLD.retention_until) AND audit_guard() = 1
        BEGIN SELECT RAISE(ABORT, 'evidence document: the file is immutable and its retention lock cannot be
        shortened'); END""",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS evidence_document_retention",
    "DROP TRIGGER IF EXISTS evidence_document_immutable",
]


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_INSTALL, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_INSTALL:
            schema_editor.execute(sql)


def remove(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_REMOVE, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_REMOVE:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0002_document_approval_reason"), ("audit", "0002_append_only_triggers")]
    operations = [migrations.RunPython(install, remove)]
