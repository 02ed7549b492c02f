"""The lineage change marker (``lineage/changes.py``): it moves on every write to nodes, edges or tags, whoever
writes them, and there is none while such a write is uncommitted."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from lineage.changes import lineage_change_marker
from lineage.models import Node
from lineage.services import node_tag_remove, node_tag_set
from tests.approvals.conftest import train


@pytest.mark.django_db(transaction=True)
def test_the_marker_moves_on_every_lineage_write_and_only_then() -> None:
    train()
    ds = Node.objects.get(node_id="dataset:postgres://bank-db:5432:features.credit")
    seen = [lineage_change_marker()]
    assert seen[0] is not None and lineage_change_marker() == seen[0]  # reading moves nothing
    for write in (lambda: train(auc=0.7, time="2026-01-03T00:00:00Z"),
                  lambda: node_tag_set(node=ds, tag="PHI", field="diagnosis", by=None),
                  lambda: node_tag_remove(node=ds, tag="PHI", field="diagnosis", by=None),
                  lambda: Node.objects.filter(pk=ds.pk).update(state="x")):  # a write no service knows of
        write()
        seen.append(lineage_change_marker())
        assert seen[-1] is not None and seen[-1] not in seen[:-1]


@pytest.mark.django_db(transaction=True)
def test_there_is_no_marker_while_a_lineage_write_is_uncommitted() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer, and its readers see committed rows only")
    train()
    with transaction.atomic():
        assert lineage_change_marker() is not None
        Node.objects.filter(kind="dataset").update(state="x")
        assert lineage_change_marker() is None  # this transaction may still roll back
    assert lineage_change_marker() is not None
