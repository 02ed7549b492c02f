"""Writes of governance attributes and policy parameters. Each public write runs in one transaction and
records its audit entry in it.

Who may write what (the pages and the API share these rules, so they live here):

- dataset governance and subject keys: compliance officers and admins. Data owners declare the attributes
  from their pipelines with the ``portalGovernance`` facet (ingestor tokens); the lawful basis, a legal
  hold and the retention date are a data-protection decision, so people outside compliance do not edit them.
- a model version's inventory record and a deployment's profile: compliance officers, admins, and approvers
  in the team that owns the node's namespace (the model's own approvers).
- policy parameters: admins only.

Pipelines set the same attributes through facets; ``lineage_governance_apply`` applies what one ingest batch
says in a few set-based statements.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from lineage import governance_fields as G
from lineage.models import Node
from portal.accounts.models import NamespaceOwner, Role, User
from portal.accounts.permissions import CURATE_ROLES, has_role
from portal.accounts.selectors import users_by_name
from portal.audit.services import Change, audit_record, audit_record_many
from portal.lib.errors import DomainError, FieldError
from portal.lib.sql import chunks, insert_ignore

from . import parameters as P
from .models import DatasetGovernance, DeploymentProfile, ModelInventory, ParameterSet, SubjectKey

MAX_SUBJECT_KEYS = 10000  # per call


class NotAllowed(DomainError):
    status_code = 403


# -- who may -------------------------------------------------------------------------------------------------
def may_set_dataset_governance(user: Any) -> bool:
    return has_role(user, CURATE_ROLES)


def may_set_model_record(user: Any, node: Node) -> bool:
    """Compliance and admins anywhere; approvers for the namespaces their teams own."""
    if has_role(user, CURATE_ROLES):
        return True
    if not has_role(user, {Role.APPROVER}):
        return False
    return NamespaceOwner.objects.filter(namespace=node.namespace, team__members=user).exists()


def may_publish_parameters(user: Any) -> bool:
    return has_role(user, {Role.ADMIN})


# -- helpers -------------------------------------------------------------------------------------------------
def dataset_of(node: Node) -> Node:
    """The dataset whose governance applies to ``node``: itself, or the dataset of a dataset version."""
    if node.kind == "dataset":
        return node
    if node.kind == "datasetVersion" and node.parent_id:
        parent = Node.objects.filter(pk=node.parent_id, kind="dataset").first()
        if parent is not None:
            return parent
    raise FieldError("node", f"governance attributes belong to datasets, not to a {node.kind}")


def _cleaned(table: dict[str, tuple[str, G.Cleaner]], fields: dict[str, Any]) -> dict[str, Any]:
    try:
        return G.clean(table, fields)
    except G.Invalid as exc:
        raise FieldError(exc.field, exc.message) from exc


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, User):
        return value.username
    return value


def snapshot(obj: Model, table: dict[str, tuple[str, G.Cleaner]]) -> dict[str, Any]:
    """The record's attributes as JSON values, as audited and returned by the API."""
    out = {}
    for name in table:
        if name == "owner":
            out[name] = obj.owner.username if obj.owner_id else None  # type: ignore[attr-defined]
        else:
            out[name] = _plain(getattr(obj, name))
    return out


def _locked(model: type[Model], node: Node) -> Any:
    """The node's record (new if none), with the node row locked as ingestion locks it, so an edit here and
    an ingest batch touching the same node take turns instead of one overwriting the other."""
    list(Node.objects.select_for_update().filter(pk=node.pk).values_list("pk"))
    obj = model.objects.select_for_update().filter(node=node).first()  # type: ignore[attr-defined]
    return obj if obj is not None else model(node=node)


def _record_set(model: type[Model], node: Node, table: dict[str, tuple[str, G.Cleaner]], fields: dict[str, Any], *,
                by: User, action: str, prepare: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None,
                check: Callable[[dict[str, Any]], None] | None = None) -> Any:
    """What the three record editors share: lock the node's record (new if none), clean the fields (then
    ``prepare`` them against the stored record), set them, ``check`` the whole record, and, only when that
    changed it, save it and audit before and after."""
    obj = _locked(model, node)
    cleaned = _cleaned(table, fields)
    if prepare is not None:
        cleaned = prepare(obj, cleaned)
    before = None if obj._state.adding else snapshot(obj, table)
    for name, value in cleaned.items():
        setattr(obj, name, value)
    after = snapshot(obj, table)
    if check is not None:
        check(after)
    if after != before:
        obj.updated_by = by  # type: ignore[attr-defined]
        obj.save()
        audit_record(actor=by, action=action, target_kind=node.kind, target_id=node.node_id,
                     payload={"before": before, "after": after, "source": "portal"})
    return obj


# -- dataset governance ----------------------------------------------------------------------------------
def _dataset_defaults(gov: DatasetGovernance, given: dict[str, Any]) -> dict[str, Any]:
    """Fill what a change implies: releasing a hold drops its reason; a disposition gets a time."""
    out = dict(given)
    if out.get("legal_hold") is False and "legal_hold_reason" not in out:
        out["legal_hold_reason"] = ""
    if "disposition" in out:
        if not out["disposition"]:
            out.setdefault("disposed_at", None)
        elif not out.get("disposed_at") and not gov.disposed_at:
            out["disposed_at"] = timezone.now()
    return out


def _check_dataset(values: dict[str, Any]) -> None:
    problems = G.dataset_problems(values)
    if problems:
        raise FieldError(problems[0].field, problems[0].message)


@transaction.atomic
def dataset_governance_set(*, node: Node, by: User, **fields: Any) -> DatasetGovernance:
    """Set some of a dataset's governance attributes (a dataset version resolves to its dataset).

    Fields not given keep their values. A special-category condition is accepted on any dataset, since
    the SPECIAL_CAT or PHI tag may arrive later from a pipeline; ``selectors.dataset_governance_warnings``
    points out the mismatch instead.
    """
    dataset = dataset_of(node)
    if not may_set_dataset_governance(by):
        raise NotAllowed("Only compliance officers and admins may set a dataset's governance attributes.")
    gov: DatasetGovernance = _record_set(DatasetGovernance, dataset, G.DATASET, fields, by=by,
                                         action="governance.dataset_set", prepare=_dataset_defaults,
                                         check=_check_dataset)
    return gov


def subject_keys_check(*, by: User) -> None:
    if not may_set_dataset_governance(by):
        raise NotAllowed("Only compliance officers and admins may add subject keys.")


@transaction.atomic
def subject_keys_add(*, dataset: Node, keys: list[str], by: User) -> int:
    """Record that ``dataset`` holds data about these subjects. Only a SHA-256 of each normalised key is
    stored, and the audit entry says how many, never which. Returns how many were new."""
    dataset = dataset_of(dataset)
    subject_keys_check(by=by)
    if not isinstance(keys, list) or not keys:
        raise FieldError("keys", "give at least one subject key")
    if len(keys) > MAX_SUBJECT_KEYS:
        raise FieldError("keys", f"at most {MAX_SUBJECT_KEYS} keys per request")
    if not all(isinstance(k, str) and k.strip() for k in keys):
        raise FieldError("keys", "every key must be a non-empty string")
    hashes = sorted({G.subject_key_hash(k) for k in keys})
    added = len(insert_ignore(SubjectKey._meta.db_table, ("dataset_id", "key_hash"),
                              [(dataset.pk, h) for h in hashes], conflict=("dataset_id", "key_hash"),
                              returning=("id",)))
    if added:
        audit_record(actor=by, action="governance.subject_keys_added", target_kind="dataset",
                     target_id=dataset.node_id, payload={"submitted": len(keys), "added": added, "source": "portal"})
    return added


# -- model inventory and deployment profile -------------------------------------------------------------
def _resolve_owner(cleaned: dict[str, Any]) -> None:
    if cleaned.get("owner"):
        user = users_by_name([cleaned["owner"]]).get(cleaned["owner"].lower())
        if user is None:
            raise FieldError("owner", f"no portal user has the username or email {cleaned['owner']!r}")
        cleaned["owner"] = user


def _inventory_prepare(inv: ModelInventory, cleaned: dict[str, Any]) -> dict[str, Any]:
    _resolve_owner(cleaned)
    _inventory_defaults(inv, cleaned)
    return cleaned


def _inventory_defaults(inv: ModelInventory, cleaned: dict[str, Any]) -> None:
    status = cleaned.get("status", inv.status)
    if status == ModelInventory.Status.RETIRED:
        if not cleaned.get("retired_at") and not inv.retired_at:
            cleaned["retired_at"] = timezone.now()
    elif cleaned.get("retired_at"):
        raise FieldError("retired_at", "only a retired model version has a retirement time")
    else:
        cleaned["retired_at"] = None


@transaction.atomic
def model_inventory_set(*, node: Node, by: User, **fields: Any) -> ModelInventory:
    """Set some fields of a model version's inventory record (created on first use).

    ``owner`` is a username or email of a portal user; ``status: retired`` records the retirement time.
    """
    if node.kind != "modelVersion":
        raise FieldError("node", f"inventory records belong to model versions, not to a {node.kind}")
    if not may_set_model_record(by, node):
        raise NotAllowed("Only the model's approvers, compliance officers and admins may edit its inventory "
                         "record.")
    inv: ModelInventory = _record_set(ModelInventory, node, G.INVENTORY, fields, by=by,
                                      action="governance.inventory_set", prepare=_inventory_prepare)
    return inv


@transaction.atomic
def deployment_profile_set(*, node: Node, by: User, **fields: Any) -> DeploymentProfile:
    """Set some fields of a deployment's regulatory profile (created on first use)."""
    if node.kind != "deployment":
        raise FieldError("node", f"profiles belong to deployments, not to a {node.kind}")
    if not may_set_model_record(by, node):
        raise NotAllowed("Only the model's approvers, compliance officers and admins may edit a deployment's "
                         "profile.")
    profile: DeploymentProfile = _record_set(DeploymentProfile, node, G.PROFILE, fields, by=by,
                                             action="governance.profile_set")
    return profile


# -- from lineage ingestion ------------------------------------------------------------------------------
_BY_KIND: dict[str, tuple[type[Model], dict[str, tuple[str, G.Cleaner]], str]] = {
    "dataset": (DatasetGovernance, G.DATASET, "governance.dataset_set"),
    "modelVersion": (ModelInventory, G.INVENTORY, "governance.inventory_set"),
    "deployment": (DeploymentProfile, G.PROFILE, "governance.profile_set"),
}


def lineage_governance_apply(*, records: dict[str, dict[str, Any]], by: User | None) -> int:
    """Apply what one ingest batch's facets (or a REST record) say: node id -> model fields, already checked
    by the facet reader (``lineage/facets.py``). Registered as a lineage ingest hook (``apps.py``); runs in the
    ingest transaction.

    Set-based: one read of the nodes, one locked read and one upsert per record kind, one insert of subject
    key hashes and one audit append, whatever the batch size. Only records that change are written and
    audited. An ``owner`` that names no portal user is left unset and noted in the audit entry. Returns
    the number of audit entries written.
    """
    if not records:
        return 0
    nodes: dict[str, tuple[int, str]] = {}
    for part in chunks(sorted(records), 5000):
        nodes.update((nid, (pk, kind)) for nid, pk, kind in
                     Node.objects.filter(node_id__in=part).values_list("node_id", "pk", "kind"))
    owners = users_by_name(f["owner"] for f in records.values() if isinstance(f.get("owner"), str))
    now = timezone.now()
    changes: list[Change] = []
    for kind, (model, table, action) in _BY_KIND.items():
        mine = {nid: nodes[nid][0] for nid in records if nid in nodes and nodes[nid][1] == kind}
        if not mine:
            continue
        qs = model.objects.filter(node_id__in=mine.values()).select_for_update(of=("self",))  # type: ignore[attr-defined]
        if model is ModelInventory:
            qs = qs.select_related("owner")  # for the audit's before; the owner row is not locked
        stored = {obj.node_id: obj for obj in qs}
        writes = []
        for nid, pk in sorted(mine.items()):
            fields = {k: v for k, v in records[nid].items() if k in table}
            note: dict[str, Any] = {}
            if "owner" in fields:
                user = owners.get(str(fields["owner"]).lower())
                if user is None:
                    note["owner_unknown"] = fields.pop("owner")
                else:
                    fields["owner"] = user
            obj = stored.get(pk) or model(node_id=pk)
            before = snapshot(obj, table) if pk in stored else None
            if model is DatasetGovernance:
                fields = _dataset_defaults(obj, fields)  # type: ignore[arg-type]
            for name, value in fields.items():
                setattr(obj, name, value)
            after = snapshot(obj, table)
            if after == before:
                continue
            obj.updated_by, obj.updated_at = by, now  # type: ignore[attr-defined]
            writes.append(obj)
            changes.append(Change(action, kind, nid, {"before": before, "after": after, "source": "lineage",
                                                      **note}))
        if writes:
            update = [*table, "updated_by", "updated_at"]
            model.objects.bulk_create(writes, update_conflicts=True, unique_fields=["node"],  # type: ignore[attr-defined]
                                      update_fields=update)
    changes += _subject_hashes_add(records, nodes)
    return audit_record_many(actor=by, changes=changes)


def _subject_hashes_add(records: dict[str, dict[str, Any]], nodes: dict[str, tuple[int, str]]) -> list[Change]:
    rows = sorted({(nodes[nid][0], h) for nid, f in records.items() if nid in nodes and nodes[nid][1] == "dataset"
                   for h in f.get("subject_key_hashes") or ()})
    if not rows:
        return []
    added: dict[int, int] = {}
    for (pk,) in insert_ignore(SubjectKey._meta.db_table, ("dataset_id", "key_hash"), rows,
                               conflict=("dataset_id", "key_hash"), returning=("dataset_id",)):
        added[pk] = added.get(pk, 0) + 1
    ids = {pk: nid for nid, (pk, _) in nodes.items()}
    return [Change("governance.subject_keys_added", "dataset", ids[pk], {"added": n, "source": "lineage"})
            for pk, n in sorted(added.items())]


# -- policy parameters -------------------------------------------------------------------------------------
@transaction.atomic
def parameters_publish(*, by: User, values: dict[str, Any], effective_from: datetime, reason: str) -> ParameterSet:
    """Publish a new version of the policy parameters: the latest version's values with ``values`` over them.

    The stored version is complete (every known parameter), so what a version meant never changes when a
    default in the code does. Versions take effect in order: ``effective_from`` may be in the past (to
    record a policy already in force) but not before the latest version's.
    """
    if not may_publish_parameters(by):
        raise NotAllowed("Only admins may publish policy parameters.")
    if not isinstance(reason, str) or not reason.strip():
        raise FieldError("reason", "a new parameter version needs a reason")
    problems = P.validate(values)
    if problems:
        raise FieldError(*problems[0])
    if not isinstance(effective_from, datetime):
        raise FieldError("effective_from", "must be a date and time")
    if timezone.is_naive(effective_from):
        effective_from = timezone.make_aware(effective_from, UTC)
    latest = ParameterSet.objects.select_for_update().order_by("-version").first()
    if latest is not None and effective_from < latest.effective_from:
        raise FieldError("effective_from", f"must not be before version {latest.version}'s "
                         f"({latest.effective_from.isoformat()})")
    base = {**P.DEFAULTS, **(latest.values if latest else {})}
    merged = {**base, **P.normalise(values)}
    merged = {k: merged[k] for k in P.SCHEMA}  # drop parameters the code no longer knows
    try:
        with transaction.atomic():
            ps = ParameterSet.objects.create(version=(latest.version + 1) if latest else 1,
                                             effective_from=effective_from, values=merged, reason=reason.strip(),
                                             created_by=by)
    except IntegrityError as exc:  # two first versions at once: nothing to lock before the first row exists
        raise DomainError("Another version was published at the same time; reload and try again.") from exc
    changed = {k: {"before": base.get(k), "after": merged[k]} for k in merged if base.get(k) != merged[k]}
    audit_record(actor=by, action="governance.parameters_published", target_kind="parameters",
                 target_id=str(ps.version),
                 payload={"version": ps.version, "effective_from": effective_from.isoformat(), "reason": ps.reason,
                          "changed": changed, "backdated": effective_from < timezone.now()})
    return ps
