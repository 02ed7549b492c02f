"""GDPR Art. 17 erasure requests: open, decide, respond; the API's permissions; what G7 then says."""

from __future__ import annotations

import pytest

from lineage.governance_fields import subject_key_hash
from portal.audit.models import AuditEntry
from portal.governance import erasure
from portal.governance.models import ErasureRequest, SubjectKey
from portal.lib.errors import FieldError
from tests.conftest import api_client


@pytest.fixture
def keyed(small_graph):
    ds = small_graph["ds:customers"]
    SubjectKey.objects.create(dataset=ds, key_hash=subject_key_hash("Customer-1001"))
    return small_graph


def test_opening_lists_the_dataset_and_the_models_derived_from_it(keyed, officer):
    req = erasure.erasure_request_open(by=officer, subject_key=" customer-1001 ")
    body = erasure.erasure_request_dict(req)
    affected = {d["node_id"]: d["outcome"] for d in body["dispositions"]}
    assert affected == {keyed["ds:customers"].node_id: "pending", keyed["mv:churn"].node_id: "pending"}
    entry = AuditEntry.objects.get(action="governance.erasure_requested")
    assert "customer-1001" not in entry.payload.lower() and req.subject_key_hash in entry.payload


def test_respond_only_after_the_datasets_are_decided(keyed, officer):
    req = erasure.erasure_request_open(by=officer, dataset=keyed["ds:customers"].node_id)
    with pytest.raises(FieldError) as e:
        erasure.erasure_request_respond(by=officer, request=req, response="done")
    assert "decide the datasets first" in e.value.message
    with pytest.raises(FieldError) as e:
        erasure.erasure_disposition_set(by=officer, request=req, node_id=keyed["mv:churn"].node_id, outcome="erased",
                                        reason="")
    assert e.value.field == "outcome"
    with pytest.raises(FieldError):
        erasure.erasure_disposition_set(by=officer, request=req, node_id=keyed["ds:customers"].node_id,
                                        outcome="exempt", reason=" ")
    erasure.erasure_disposition_set(by=officer, request=req, node_id=keyed["ds:customers"].node_id,
                                    outcome="erased", reason="rows deleted")
    req = erasure.erasure_request_respond(by=officer, request=req, response="Your data was erased.")
    assert req.responded_at is not None


def test_the_api_refuses_readers_and_names_bad_fields(keyed, officer, alice):
    assert api_client(alice).post("/api/v1/erasure-requests", {"subject_key": "customer-1001"},
                                  format="json").status_code == 403
    client = api_client(officer)
    r = client.post("/api/v1/erasure-requests", {"subject_key": "nobody"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "subject_key"
    assert ErasureRequest.objects.count() == 0
    r = client.post("/api/v1/erasure-requests", {"subject_key": "customer-1001"}, format="json")
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    r = client.post(f"/api/v1/erasure-requests/{pk}/dispositions",
                    {"node_id": keyed["ds:customers"].node_id, "outcome": "anonymised"}, format="json")
    assert r.status_code == 200
    r = client.post(f"/api/v1/erasure-requests/{pk}/respond", {"response": "anonymised"}, format="json")
    assert r.status_code == 200 and r.json()["responded_at"]
    assert api_client(alice).get(f"/api/v1/erasure-requests/{pk}").status_code == 403


def test_g7_reads_the_requests_from_the_database(keyed, officer):
    from datetime import timedelta

    from django.utils import timezone

    from portal.governance.parameters import DEFAULTS
    from portal.reports.checks import gdpr
    from portal.reports.selectors import facts_load

    now = timezone.now()
    erasure.erasure_request_open(by=officer, subject_key="customer-1001", received_at=now - timedelta(days=40))
    facts = facts_load(scope={}, period=(now - timedelta(days=365), now), now=now, params=DEFAULTS)
    result = gdpr.erasure(facts)
    assert result.status == "fail"
    assert any(f.why.startswith("not answered; due") for f in result.failing)
