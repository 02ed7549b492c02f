"""The database refuses deleting a document under its retention lock, and changing a document's file."""

from __future__ import annotations

from django.db import migrations

from portal.evidence import db


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(db.POSTGRES_INSTALL, params=None)
    elif vendor == "sqlite":
        for sql in db.SQLITE_INSTALL:
            schema_editor.execute(sql)


def remove(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(db.POSTGRES_REMOVE, params=None)
    elif vendor == "sqlite":
        for sql in db.SQLITE_REMOVE:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0002_document_approval_reason"), ("audit", "0002_append_only_triggers")]
    operations = [migrations.RunPython(install, remove)]
