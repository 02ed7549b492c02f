"""Event times within bounds: the future beyond the clock skew is refused, the distant past is flagged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from lineage.models import Node, RawEvent
from tests.conftest import post_event
from tests.factories import dataset, deploy_facets, model_output, run_event

pytestmark = pytest.mark.django_db


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def test_an_event_from_the_year_2999_is_400_naming_event_time_and_stores_nothing(ingest_client) -> None:
    r = post_event(ingest_client, run_event(time="2999-01-01T00:00:00Z", outputs=[dataset("db", "a")]))
    assert r.status_code == 400, r.content
    assert r.json()["errors"][0]["field"] == "eventTime"
    assert "future" in r.json()["errors"][0]["message"]
    assert RawEvent.objects.count() == 0 and Node.objects.count() == 0


def test_a_few_minutes_ahead_is_clock_skew_and_accepted(ingest_client) -> None:
    assert post_event(ingest_client, run_event(time=_at(timedelta(minutes=5)))).status_code == 201


@override_settings(LINEAGE_MAX_FUTURE_SECONDS=60)
def test_the_skew_is_a_setting(ingest_client) -> None:
    r = post_event(ingest_client, run_event(time=_at(timedelta(minutes=5))))
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "eventTime"


def test_in_a_batch_the_future_event_gets_its_own_error(ingest_client) -> None:
    body = json.dumps([run_event(), run_event(time="2999-01-01T00:00:00Z"), run_event()]).encode()
    r = ingest_client.post("/api/v1/lineage/batch", data=body, content_type="application/json")
    assert [x["status"] for x in r.json()["results"]] == ["created", "error", "created"]
    assert r.json()["results"][1]["error"]["field"] == "eventTime"
    assert RawEvent.objects.count() == 2
    r = ingest_client.post("/api/v1/lineage/batch?atomic=true", data=body, content_type="application/json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "[1].eventTime"


def test_without_a_horizon_old_events_are_plain(ingest_client) -> None:
    r = post_event(ingest_client, run_event(time="2001-01-01T00:00:00Z"))
    assert r.status_code == 201 and not r.json()["warnings"]


@override_settings(LINEAGE_EVENT_HORIZON_DAYS=365)
def test_an_event_older_than_the_horizon_is_accepted_with_a_warning(ingest_client) -> None:
    r = post_event(ingest_client, run_event(time="2001-01-01T00:00:00Z"))
    assert r.status_code == 201
    assert any("horizon" in w for w in r.json()["warnings"])
    assert any("horizon" in w for w in RawEvent.objects.get().warnings)


@pytest.mark.parametrize("path", ["/api/v1/commits", "/api/v1/model-versions"])
def test_rest_records_refuse_a_future_time(ingest_client, path) -> None:
    body = ({"repo": "https://git.example.com/ml.git", "sha": "abc1234"} if path.endswith("commits")
            else {"namespace": "ml", "name": "credit", "version": "7"})
    r = ingest_client.post(path, {**body, "time": "2999-01-01T00:00:00Z"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "time"
    assert Node.objects.count() == 0


def test_a_deployment_by_rest_refuses_a_future_time(ingest_client) -> None:
    model = {"namespace": "ml", "name": "credit", "version": "7"}
    assert ingest_client.post("/api/v1/model-versions", model, format="json").status_code == 201
    r = ingest_client.post("/api/v1/deployments", {"model": model, "environment": "production",
                                                  "time": "2999-01-01T00:00:00Z"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "time"
    assert not Node.objects.filter(kind="deployment").exists()


def test_a_deploy_stamped_ahead_of_the_portal_does_not_pin_a_later_real_one(ingest_client) -> None:
    assert post_event(ingest_client, run_event(job="train", outputs=[model_output("credit", "7"),
                                                                     model_output("credit", "8")])).status_code == 201
    ahead = run_event(job="deploy", time=_at(timedelta(minutes=8)), run_facets=deploy_facets("credit", "7", "prod"))
    assert post_event(ingest_client, ahead).status_code == 201
    real = run_event(job="deploy", time=_at(timedelta(seconds=1)), run_facets=deploy_facets("credit", "8", "prod"))
    assert post_event(ingest_client, real).status_code == 201
    states = dict(Node.objects.filter(kind="deployment").values_list("version", "state"))
    assert states == {"7": "superseded", "8": "active"}
