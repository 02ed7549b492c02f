"""Governance pages: the edit form of a node's governance record, and the policy parameters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from lineage import governance_fields as G
from lineage.models import Node
from portal.accounts.permissions import READ_ROLES, has_role
from portal.lib.errors import DomainError, FieldError

from . import forms as gforms
from . import parameters as P
from . import selectors, services
from .models import DatasetGovernance, DeploymentProfile, ModelInventory


def _visible(request: HttpRequest, node_id: str) -> Node:
    node = Node.objects.visible_to(request.user).filter(node_id=node_id).first()
    if node is None or not has_role(request.user, READ_ROLES):
        raise Http404
    return node


def _initial(obj: Any, table: dict[str, Any]) -> dict[str, Any]:
    out = services.snapshot(obj, table)
    for name in ("purposes", "overseers"):
        if name in out:
            out[name] = ("\n" if name == "purposes" else ", ").join(out[name])
    for name in ("retention_until", "stop_control_tested_at"):
        if name in out:
            out[name] = getattr(obj, name)
    return out


def _save(request: HttpRequest, form: forms.Form, write: Any) -> bool:
    """Call the service with the form's values; a refusal becomes a form error. True when saved."""
    if not form.is_valid():
        return False
    try:
        write(form.values())  # type: ignore[attr-defined]
    except FieldError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return False
    except services.NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        form.add_error(None, exc.message)
        return False
    return True


@login_required
def node_governance(request: HttpRequest, node_id: str) -> HttpResponse:
    """Edit a dataset's governance attributes, a model version's inventory record or a deployment's profile."""
    node = _visible(request, node_id)
    by = request.user
    data = request.POST if request.method == "POST" else None
    keys_form = None
    if node.kind in ("dataset", "datasetVersion"):
        node = services.dataset_of(node)
        if not services.may_set_dataset_governance(by):
            raise PermissionDenied
        record: Any = selectors.dataset_governance_get(node) or DatasetGovernance(node=node)
        form: forms.Form = gforms.DatasetGovernanceForm(data, initial=_initial(record, G.DATASET))
        keys_form = gforms.SubjectKeysForm()

        def write(v: dict[str, Any]) -> Any:
            return services.dataset_governance_set(node=node, by=by, **v)
        title = "Governance attributes"
    elif node.kind == "modelVersion":
        if not services.may_set_model_record(by, node):
            raise PermissionDenied
        record = selectors.model_inventory_get(node) or ModelInventory(node=node)
        form = gforms.ModelInventoryForm(data, initial=_initial(record, G.INVENTORY))

        def write(v: dict[str, Any]) -> Any:
            return services.model_inventory_set(node=node, by=by, **v)
        title = "Model inventory record"
    elif node.kind == "deployment":
        if not services.may_set_model_record(by, node):
            raise PermissionDenied
        record = selectors.deployment_profile_get(node) or DeploymentProfile(node=node)
        form = gforms.DeploymentProfileForm(data, initial=_initial(record, G.PROFILE))

        def write(v: dict[str, Any]) -> Any:
            return services.deployment_profile_set(node=node, by=by, **v)
        title = "Deployment profile"
    else:
        raise Http404
    if data is not None and _save(request, form, write):
        messages.success(request, f"{title} saved.")
        return redirect("web:node-detail", node.node_id)
    return render(request, "governance/node_edit.html", {
        "node": node, "form": form, "title": title, "keys_form": keys_form,
        "subject_keys": selectors.subject_key_count(node) if keys_form else None,
    }, status=400 if data is not None else 200)


@login_required
@require_POST
def subject_keys_add(request: HttpRequest, node_id: str) -> HttpResponse:
    node = services.dataset_of(_visible(request, node_id))
    if not services.may_set_dataset_governance(request.user):
        raise PermissionDenied("Only compliance officers and admins may add subject keys.")
    form = gforms.SubjectKeysForm(request.POST)
    if form.is_valid():
        try:
            added = services.subject_keys_add(dataset=node, keys=form.values(), by=request.user)
        except services.NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            messages.error(request, exc.message)
        except FieldError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{added} new subject key(s) recorded.")
    else:
        messages.error(request, "Give at least one key.")
    return redirect("governance:node", node.node_id)


@login_required
def parameters(request: HttpRequest) -> HttpResponse:
    """The policy parameters in force, their history, and (admins) a form to publish a new version."""
    if not has_role(request.user, READ_ROLES):
        raise Http404
    is_admin = services.may_publish_parameters(request.user)
    pset, values = P.parameters_in_force()
    latest = selectors.parameter_versions()[:1]
    current = {**values, **(latest[0].values if latest else {})}
    form = None
    if is_admin:
        form = gforms.ParametersForm(request.POST if request.method == "POST" else None, current=current)
        if request.method == "POST" and form.is_valid():
            try:
                ps = services.parameters_publish(by=request.user, values=form.changed_values(),
                                                 effective_from=form.cleaned_data["effective_from"] or timezone.now(),
                                                 reason=form.cleaned_data["reason"])
            except FieldError as exc:
                name = f"p_{exc.field.split('.')[1]}" if exc.field and exc.field.startswith("values.") else exc.field
                form.add_error(name if name in form.fields else None, exc.message)
            else:
                messages.success(request, f"Parameters version {ps.version} published.")
                return redirect("governance:parameters")
    elif request.method == "POST":
        raise PermissionDenied
    rows = [(p, values.get(p.name)) for p in P.PARAMS]
    return render(request, "governance/parameters.html", {
        "pset": pset, "rows": rows, "form": form,
        "versions": selectors.parameter_versions(), "is_admin": is_admin,
    }, status=400 if form is not None and form.errors else 200)
