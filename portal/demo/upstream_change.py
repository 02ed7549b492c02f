"""A change upstream of approved releases, to see "what changed since approval" on the demo.

After ``load_demo`` credit-scoring 7 is approved for staging. Here its pipeline registers version 7 again from a
retraining run on new code (commit c5, which adds churn propensity from the customer-analytics lake as a
feature), so the model now also rests on another team's dataset and scores a little worse; and the data
protection officer classifies a column of the loan book as special-category data. Running it again changes
nothing (the run and the commit have fixed ids; the tag is set once).
"""

from __future__ import annotations

from dataclasses import replace

from lineage.models import Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest, node_tag_set, portal_record_ingest
from portal.accounts.models import User

from . import story as demo

COMMIT = demo.Commit(demo.CREDIT_REPO, "c5", "Add churn propensity from the analytics lake as a credit feature",
                     demo._person(demo.PRIYA), demo._person(demo.PRIYA), demo.at(31, 9, 10))
RETRAINED = replace(demo.CREDIT_MODELS["7"], metrics={"auc": 0.781, "ks": 0.44, "gini": 0.562})
TAGGED = (demo.LOANS, "hardship_reason", "SPECIAL_CAT")


def change_upstream(*, by: User) -> Node:
    """Ingest the retraining and set the tag; return the credit-scoring 7 model version."""
    portal_record_ingest(kind="commit", payload=COMMIT.payload(), by=by)
    tl = demo._Timeline()
    _, task = demo._dag(demo.CREDIT_NS, "credit_scoring_weekly", demo.CREDIT_REPO, "credit-risk", demo.PRIYA,
                        "Weekly rebuild of applicant features and retraining of credit-scoring.", {
                            "train_model": ("pipelines/train.py", "XGBoost credit-scoring model.")})
    tl.run("credit/retrain-with-churn/train", task["train_model"], COMMIT, demo.at(31, 10), demo.at(31, 11, 5),
           inputs=[demo.CREDIT_FEATURES, demo.CHURN_FEATURES], model=RETRAINED, launched_by=demo.PRIYA)
    events_ingest(events=[parse_event(demo.event_bytes(e)) for e in tl.events], by=by)
    dataset, column, tag = TAGGED
    node = Node.objects.get(kind="dataset", namespace=dataset.namespace, name=dataset.name)
    if not node.tags.filter(field=column, tag=tag).exists():
        node_tag_set(node=node, tag=tag, field=column, by=by)
    return Node.objects.get(kind="modelVersion", name=demo.CREDIT_MODEL, version="7")
