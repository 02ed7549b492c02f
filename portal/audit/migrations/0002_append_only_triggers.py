"""The database refuses UPDATE, DELETE and TRUNCATE on the audit tables."""

from __future__ import annotations

from django.db import migrations

from portal.audit import db


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
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
