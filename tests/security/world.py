"""The demo organisation as the security tests see it: who plays each role, and the objects they probe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType

from lineage.models import ColumnEdge, Node
from portal.accounts.models import ApiToken, User
from portal.accounts.services import token_issue
from portal.approvals.models import Release
from portal.audit.models import AuditEntry
from portal.demo import story as demo
from portal.demo.management.commands.load_demo import _load
from portal.evidence.models import Document
from portal.governance.erasure import erasure_request_open
from portal.incidents.services import incident_open_from_alert
from portal.monitoring.models import Alert
from portal.reports.models import Report
from portal.reports.services import report_generate, report_request

# Who plays each role: demo users. The outsider is a viewer of the clinical team; every object build_world()
# picks belongs to the credit-risk team, which the viewer (priya) is in and the outsider (tomas) is not.
PLAYERS = {"ingestor": demo.INGESTOR, "viewer": demo.PRIYA, "outsider": demo.TOMAS, "approver": demo.MARCUS,
           "compliance_officer": demo.SAM, "auditor": demo.INGRID, "admin": demo.ALEX}


@dataclass(slots=True)
class World:
    users: dict[str, User]
    tokens: dict[str, str]
    values: dict[str, str]


def column_of(dataset: Node) -> str:
    """A column of ``dataset`` that column edges join (the demo's writers report column lineage)."""
    field = (ColumnEdge.objects.filter(src__parent=dataset).order_by("src_field")
             .values_list("src_field", flat=True).first())
    assert field, f"no column lineage from {dataset.node_id} in the demo"
    return field


def build_world() -> World:
    _load()
    users = {role: User.objects.get(username=p.username) for role, p in PLAYERS.items()}
    tokens = {role: token_issue(user=u, name="authz")[1] for role, u in users.items()}
    viewer, outsider = users["viewer"], users["outsider"]
    credit = [ns for t in demo.TEAMS if t.name == "credit-risk" for ns in t.namespaces]

    def hidden(qs: Any, obj: Any) -> Any:
        """The object the probes target: seen by the viewer, not by the outsider."""
        assert qs.visible_to(viewer).filter(pk=obj.pk).exists(), obj
        assert not qs.visible_to(outsider).filter(pk=obj.pk).exists(), obj
        return obj

    nodes = Node.objects.filter(namespace__in=credit)
    dataset = hidden(Node.objects, nodes.filter(kind="dataset").order_by("pk").first())
    model = hidden(Node.objects, nodes.filter(kind="modelVersion").order_by("pk").first())
    deployment = hidden(Node.objects, nodes.filter(kind="deployment").order_by("pk").first())
    run = hidden(Node.objects, nodes.filter(kind="run").order_by("pk").first())
    release = hidden(Release.objects, Release.objects.filter(model_version__namespace__in=credit,
                                                             state=Release.State.PENDING).get())
    document = hidden(Document.objects, Document.objects.visible_to(viewer).exclude(
        pk__in=Document.objects.visible_to(outsider)).order_by("created_at").first())
    report = report_request(by=users["compliance_officer"], kind=Report.Kind.FRAMEWORK, framework="gdpr",
                            enqueue=False)
    report_generate(report_id=str(report.pk))
    erasure = erasure_request_open(by=users["compliance_officer"], dataset=dataset.node_id)
    alert = hidden(Alert.objects, Alert.objects.filter(deployment__namespace__in=credit).order_by("pk").first())
    incident = incident_open_from_alert(by=users["compliance_officer"], alert=alert)
    return World(users=users, tokens=tokens, values={
        "field": column_of(dataset),
        "dataset": dataset.node_id, "modelVersion": model.node_id, "deployment": deployment.node_id,
        "run_uuid": run.node_id.removeprefix("run:"), "release": str(release.pk), "document": str(document.pk),
        "report": str(report.pk), "erasure_request": str(erasure.pk),
        "alert": str(alert.pk), "incident": str(incident.pk),
        "seq": str(AuditEntry.objects.order_by("-seq").values_list("seq", flat=True)[0]),
        # The viewer's token: nobody else may revoke it.
        "token": str(ApiToken.objects.filter(user=viewer).order_by("pk").values_list("pk", flat=True)[0]),
        "user": str(viewer.pk), "user_ct": str(ContentType.objects.get_for_model(User).pk),
    })
