"""Fill the history columns of rows stored before ``0007`` with what they can answer (docs/lineage-asof.md).

An edge or node stored before is taken to be true from when the portal received it (an event time is never
later than its receipt: ``Planner.time``), a node from its newest event time when that is earlier; each node with a
state gets one state change at its last update. ``manage.py lineage_history_backfill`` recomputes the exact event
times from the raw events. Edges replaced before this migration are gone: no history to fill.
"""

from __future__ import annotations

from django.db import migrations

FORWARDS = [
    "UPDATE lineage_nodetag SET event_from = created_at WHERE event_from IS NULL AND source = 'facet'",
    "UPDATE lineage_edge SET event_from = created_at WHERE event_from IS NULL",
    "UPDATE lineage_node SET event_from = CASE WHEN event_time IS NOT NULL AND event_time < created_at "
    "THEN event_time ELSE created_at END WHERE event_from IS NULL",
    "INSERT INTO lineage_nodestatechange (node_id, basis, state, at) "
    "SELECT id, 'received', state, updated_at FROM lineage_node WHERE state <> ''",
    "INSERT INTO lineage_nodestatechange (node_id, basis, state, at) "
    "SELECT id, 'event', state, COALESCE(event_time, updated_at) FROM lineage_node WHERE state <> ''",
]


class Migration(migrations.Migration):
    dependencies = [("lineage", "0007_lineage_history")]

    operations = [migrations.RunSQL(FORWARDS, migrations.RunSQL.noop)]
