"""Approval pages: status codes and effects, lightly."""

from __future__ import annotations

import pytest

from portal.approvals import services
from portal.approvals.models import Release
from tests.approvals.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_an_approver_signs_from_the_inbox(client, release, people) -> None:
    client.force_login(people["risk"])
    r = client.get("/approvals/")
    assert r.status_code == 200 and f"#{release.pk}".encode() in r.content
    r = client.get(f"/approvals/releases/{release.pk}")
    assert r.status_code == 200 and b"Lineage under review" in r.content and b"not eligible" in r.content
    r = client.post(f"/approvals/releases/{release.pk}/sign", {"meaning": "approval", "reason": "ok",
                                                              "password": PASSWORD,
                                                              "subject_digest": release.subject_digest}, follow=True)
    assert r.status_code == 200 and release.signatures.count() == 1
    html = r.content.decode()
    # The confirmation names the release and its state; the form is gone, the signature shown instead.
    assert (f"Signed release #{release.pk} (credit 7 → production). It is now pending: waiting for 1 more from "
            "compliance.") in html
    assert 'id="sign-form"' not in html and "You signed this release" in html
    assert "counts for model-risk" in html and "counted for —" not in html
    assert "mo: signed (approval" in html  # not "eligible" once signed


def test_a_wrong_password_on_the_form_signs_nothing_and_keeps_the_reason(client, release, people) -> None:
    client.force_login(people["risk"])
    r = client.post(f"/approvals/releases/{release.pk}/sign", {
        "action": "approve", "meaning": "review", "reason": "Back-test within limits", "password": "x",
        "subject_digest": release.subject_digest})
    html = r.content.decode()
    assert r.status_code == 400 and "password is wrong" in html and not release.signatures.exists()
    assert 'value="Back-test within limits"' in html and '<option value="review" selected>' in html


def test_reject_is_its_own_confirmed_form(client, release, people) -> None:
    client.force_login(people["risk"])
    html = client.get(f"/approvals/releases/{release.pk}").content.decode()
    assert 'id="reject-form"' in html and 'class="danger"' in html and 'name="confirm"' in html
    data = {"action": "reject", "reason": "AUC regressed", "password": PASSWORD,
            "subject_digest": release.subject_digest}
    r = client.post(f"/approvals/releases/{release.pk}/sign", data)
    assert r.status_code == 400 and "confirm" in r.content.decode() and not release.signatures.exists()
    assert 'value="AUC regressed"' in r.content.decode()
    r = client.post(f"/approvals/releases/{release.pk}/sign", {**data, "confirm": "yes"}, follow=True)
    assert f"Rejected release #{release.pk} (credit 7 → production). It is now rejected" in r.content.decode()
    assert Release.objects.get(pk=release.pk).state == Release.State.REJECTED


def test_the_page_names_author_and_committer_of_each_upstream_commit(client, release, people) -> None:
    client.force_login(people["risk"])
    html = client.get(f"/approvals/releases/{release.pk}").content.decode()
    assert "author dan@example.com, committer dan@example.com" in html


def test_policy_editor_is_for_admins(client, people) -> None:
    client.force_login(people["risk"])
    client.post("/approvals/policies", {"environment": "qa", "team": ["model-risk"], "min_approvals": ["1"],
                                        "reason": "x"})
    from portal.approvals.models import Policy

    assert not Policy.objects.filter(environment="qa").exists()
    client.force_login(people["admin"])
    client.post("/approvals/policies", {"environment": "qa", "team": ["model-risk", ""], "min_approvals": ["2", "1"],
                                        "reason": "QA gate"})
    assert Policy.objects.get(environment="qa").groups.get().min_approvals == 2
    assert client.get("/approvals/policies").status_code == 200


def test_charlie_gets_404_on_another_teams_release(client, release, charlie, credit_ns_owned) -> None:
    from lineage.models import Node

    Node.objects.filter(pk=release.model_version_id).update(namespace="postgres://bank-db:5432")
    client.force_login(charlie)
    assert client.get(f"/approvals/releases/{release.pk}").status_code == 404
    assert client.post(f"/approvals/releases/{release.pk}/sign", {"password": "x"}).status_code == 404
    assert Release.objects.get(pk=release.pk).state == Release.State.PENDING


def test_a_signed_release_moves_from_waiting_to_signed_by_me_and_then_to_decided(client, release, people) -> None:
    client.force_login(people["risk"])
    services.release_sign(release=release, by=people["risk"], password=PASSWORD, meaning="approval", reason="ok",
                          reviewed_digest=release.subject_digest)
    html = client.get("/approvals/").content.decode()
    waiting = html[html.index('id="waiting"'):html.index('id="signed-by-me"')]
    signed = html[html.index('id="signed-by-me"'):html.index('id="decided"')]
    assert f"#{release.pk}" not in waiting and f"#{release.pk}" in signed and "approval" in signed
    services.release_sign(release=release, by=people["compliance"], password=PASSWORD, meaning="approval",
                          reason="ok", reviewed_digest=release.subject_digest)
    html = client.get("/approvals/").content.decode()
    assert f"#{release.pk}" in html[html.index('id="decided"'):]


@pytest.mark.parametrize(("changes", "field"), [
    ({"environment": "prod uction<>"}, "environment"),
    ({"approval_expiry_days": "0"}, "approval_expiry_days"),
    ({"approval_expiry_days": "-5"}, "approval_expiry_days"),
    ({"approval_expiry_days": "many"}, "approval_expiry_days"),
    ({"min_wait_hours": "-1"}, "min_wait_hours"),
    ({"min_approvals": ["-5"]}, "groups"),
    ({"min_approvals": ["two"]}, "groups"),
    ({"required_evidence": "selfie"}, "required_evidence"),
    ({"sensitive_tag": "secret"}, "sensitive_tag"),
    ({"governed": "no"}, "groups"),  # an ungoverned environment has no approver groups
])
def test_the_policy_page_refuses_what_the_api_refuses_naming_the_same_field(client, people, admin_client,
                                                                            changes, field) -> None:
    from portal.approvals.models import Policy

    page = {"environment": "qa", "team": ["model-risk"], "min_approvals": ["1"], "reason": "QA gate", **changes}
    client.force_login(people["admin"])
    r = client.post("/approvals/policies", page, follow=True)
    assert r.status_code == 200 and not Policy.objects.exists()
    assert field.encode() in r.content
    api = {"environment": page["environment"], "reason": "QA gate",
           "groups": [{"team": "model-risk", "min_approvals": _int_or(page["min_approvals"][0])}]}
    for key in ("approval_expiry_days", "min_wait_hours", "sensitive_tag"):
        if key in changes:
            api[key] = _int_or(changes[key])
    if "governed" in changes:
        api["governed"] = changes["governed"] != "no"
    if "required_evidence" in changes:
        api["required_evidence"] = [changes["required_evidence"]]
    r = admin_client.post("/api/v1/policies", api, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"].startswith(field)


def _int_or(value: str) -> object:
    try:
        return int(value)
    except ValueError:
        return value


def _custom_policy(admin) -> object:
    """A production policy whose rule triggers and retrospective window were set through the API (not the page)."""
    return services.policy_create(
        by=admin, environment="qa", groups=[("model-risk", 2)], reason="QA gate", approval_expiry_days=45,
        min_wait_hours=4, required_evidence=["dpia"], retrospective_days=11,
        material_change={"rules": {"new_data_source": {"enabled": True, "triggers": ["SR 26-2 revalidation"]},
                                   "new_training_code": {"enabled": False, "triggers": []}},
                         "metric_drop_percent": 7.5, "lower_is_better": ["loss"]})


def test_editing_one_field_of_a_policy_on_the_page_keeps_the_others(client, people) -> None:
    """The page shows a version in the form to edit; saving it with one field changed keeps every other field,
    the rule triggers and the retrospective window the form does not show included (they were reset to the
    defaults before)."""
    from portal.approvals.models import Policy

    v1 = _custom_policy(people["admin"])
    client.force_login(people["admin"])
    html = client.get(f"/approvals/policies?edit={v1.pk}").content.decode()
    assert 'id="p-env" name="environment" required value="qa"' in html
    assert 'name="approval_expiry_days" type="number" min="1" value="45"' in html
    assert 'value="7.5"' in html and 'name="lower_is_better" value="loss"' in html
    assert 'value="new_training_code">' in html and 'value="new_training_code" checked>' not in html
    # What the browser sends back for that form with only the wait changed.
    form = {"environment": "qa", "namespace": "", "model_name": "", "sensitive_tag": "", "governed": "yes",
            "team": ["model-risk", ""], "min_approvals": ["2", "1"], "approval_expiry_days": "45",
            "min_wait_hours": "8", "required_evidence": "dpia",
            "material_rule": ["new_sensitive_tag", "new_data_source", "metric_drop"],
            "metric_drop_percent": "7.5", "lower_is_better": "loss", "reason": "longer wait"}
    client.post("/approvals/policies", form)
    v2 = Policy.objects.get(key=v1.key, version=2)
    assert v2.min_wait_hours == 8
    assert v2.material_change == v1.material_change
    assert v2.retrospective_days == 11 and v2.approval_expiry_days == 45 and v2.required_evidence == ["dpia"]
    assert [(g.team.name, g.min_approvals) for g in v2.groups.all()] == [("model-risk", 2)]


def test_a_policy_form_without_the_rule_fields_keeps_the_rules_of_the_version_it_follows(client, people) -> None:
    from portal.approvals.models import Policy

    v1 = _custom_policy(people["admin"])
    client.force_login(people["admin"])
    client.post("/approvals/policies", {"environment": "qa", "team": ["model-risk"], "min_approvals": ["2"],
                                        "reason": "same rules"})
    v2 = Policy.objects.get(key=v1.key, version=2)
    assert v2.material_change == v1.material_change and v2.retrospective_days == 11


def test_a_new_policy_from_the_page_starts_from_the_defaults(client, people) -> None:
    from portal.approvals import materiality
    from portal.approvals.models import Policy

    _custom_policy(people["admin"])
    client.force_login(people["admin"])
    client.post("/approvals/policies", {"environment": "uat", "team": ["model-risk"], "min_approvals": ["1"],
                                        "reason": "UAT gate", "material_rule": list(materiality.RULE_NAMES),
                                        "metric_drop_percent": "2", "lower_is_better": "loss"})
    p = Policy.objects.get(environment="uat")
    assert p.material_change["rules"]["new_data_source"]["triggers"] == list(materiality.BY_NAME[
        "new_data_source"].triggers)
    assert p.retrospective_days == 5


def test_a_policy_edited_into_a_new_scope_keeps_what_the_form_does_not_show_from_the_version_it_came_from(
        client, people) -> None:
    from portal.approvals.models import Policy

    v1 = _custom_policy(people["admin"])
    client.force_login(people["admin"])
    client.post("/approvals/policies", {"environment": "uat", "team": ["model-risk"], "min_approvals": ["2"],
                                        "reason": "UAT like QA", "from_version": str(v1.pk)})
    p = Policy.objects.get(environment="uat")
    assert p.material_change == v1.material_change and p.retrospective_days == 11
