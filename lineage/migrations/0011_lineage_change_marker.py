"""Triggers that move the lineage change marker (``lineage/changes.py``) on every write to nodes, edges or tags."""

from django.db import migrations

LOCK_KEYS = (20261206, 1)  # lineage.changes.LOCK_KEYS, as it was when this migration was written
TABLES = ("lineage_node", "lineage_edge", "lineage_nodetag")


def forwards(apps, schema_editor):
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        run("CREATE SEQUENCE lineage_change_seq")
        run(f"""CREATE FUNCTION lineage_change_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared({LOCK_KEYS[0]}, {LOCK_KEYS[1]});
    PERFORM nextval('lineage_change_seq');
    RETURN NULL;
END $$""")
        for table in TABLES:
            run(f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION lineage_change_mark()")
        return
    run("CREATE TABLE lineage_change (id integer PRIMARY KEY, n integer NOT NULL, token text NOT NULL)")
    run("INSERT INTO lineage_change (id, n, token) VALUES (1, 0, lower(hex(randomblob(8))))")
    for table in TABLES:
        for op in ("INSERT", "UPDATE", "DELETE"):
            run(f"CREATE TRIGGER {table}_{op.lower()}_changed AFTER {op} ON {table} BEGIN "
                "UPDATE lineage_change SET n = n + 1, token = lower(hex(randomblob(8))) WHERE id = 1; END")


def backwards(apps, schema_editor):
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            run(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
        run("DROP FUNCTION IF EXISTS lineage_change_mark()")
        run("DROP SEQUENCE IF EXISTS lineage_change_seq")
        return
    for table in TABLES:
        for op in ("insert", "update", "delete"):
            run(f"DROP TRIGGER IF EXISTS {table}_{op}_changed")
    run("DROP TABLE IF EXISTS lineage_change")


class Migration(migrations.Migration):
    dependencies = [("lineage", "0010_noderetired_node_id")]

    operations = [migrations.RunPython(forwards, backwards)]
