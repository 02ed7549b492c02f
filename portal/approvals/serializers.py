"""Input validation shared by the approvals API and its pages, so a page never accepts what the API refuses."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import serializers

from lineage.models import Tag
from portal.evidence.models import DocumentType

from . import materiality
from .models import Policy


class PolicyInputSerializer(serializers.Serializer):
    """A new policy version: the one validation of the API and the policy page."""

    environment = serializers.RegexField(r"^[A-Za-z0-9_.-]{1,100}$")
    namespace = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)
    model_name = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)
    sensitive_tag = serializers.ChoiceField(choices=Tag.choices, required=False, allow_blank=True, default="")
    governed = serializers.BooleanField(default=True, help_text=(
        "False declares the environment (in this scope) ungoverned: deploys need no release and are no "
        "violation. Such a policy has no groups; its reason is required like every policy change's."))
    groups = serializers.ListField(child=serializers.DictField(), default=list)
    approval_expiry_days = serializers.IntegerField(min_value=1, max_value=3650, default=30)
    min_wait_hours = serializers.IntegerField(min_value=0, max_value=24 * 90, default=0)
    required_evidence = serializers.ListField(child=serializers.ChoiceField(choices=DocumentType.choices),
                                              default=list)
    retrospective_days = serializers.IntegerField(min_value=1, max_value=365, default=5)
    effective_from = serializers.DateTimeField(required=False)
    material_change = serializers.JSONField(required=False, help_text=(
        "The material-change rule set: {rules: {new_sensitive_tag|new_data_source|metric_drop|new_training_code: "
        "{enabled, triggers}}, metric_drop_percent, lower_is_better}. Left-out keys keep their defaults."))
    reason = serializers.CharField(max_length=5000)

    def validate_material_change(self, value: Any) -> dict[str, Any]:
        problems = materiality.validate(value)
        if problems:
            raise serializers.ValidationError({k.removeprefix("material_change."): m for k, m in problems})
        return dict(value)

    def validate_groups(self, value: list[dict[str, Any]]) -> list[tuple[str, int]]:
        out = []
        for i, g in enumerate(value):
            team, n = g.get("team"), g.get("min_approvals", 1)
            if not isinstance(team, str) or not team or not isinstance(n, int) or n < 1:
                raise serializers.ValidationError(f"[{i}]: needs a team name and min_approvals >= 1")
            out.append((team, n))
        return out


def policy_form_data(post: QueryDict, *, follows: Policy | None = None) -> dict[str, Any]:
    """The policy page's form as the API's JSON body: groups from the paired team/min_approvals fields, evidence
    from a comma-separated list, ``governed`` from the yes/no choice. Values that are not numbers stay strings
    for the serializer to refuse.

    ``follows`` is the version the new one follows (same environment and scope): what the form does not show,
    each rule's triggers and the retrospective window, and the whole rule set when the form has no rule fields,
    are kept from it instead of falling back to the defaults."""

    def number(value: str) -> int | str:
        try:
            return int(value)
        except ValueError:
            return value

    groups = [{"team": team, "min_approvals": number(n or "1")}
              for team, n in zip(post.getlist("team"), post.getlist("min_approvals"), strict=False) if team]
    data: dict[str, Any] = {
        "environment": post.get("environment", "").strip(), "namespace": post.get("namespace", "").strip(),
        "model_name": post.get("model_name", "").strip(), "sensitive_tag": post.get("sensitive_tag", ""),
        "groups": groups, "governed": post.get("governed", "yes") != "no", "reason": post.get("reason", ""),
        "required_evidence": [e.strip() for e in post.get("required_evidence", "").split(",") if e.strip()],
    }
    for name in ("approval_expiry_days", "min_wait_hours"):
        raw = str(post.get(name, "")).strip()
        if raw:
            data[name] = number(raw)
    kept = materiality.in_force(follows.material_change)[0] if follows else None
    if follows is not None:
        data["retrospective_days"] = follows.retrospective_days
    if "metric_drop_percent" in post:  # the form's rule set: ticked rules are on, each keeps its triggers
        ticked = set(post.getlist("material_rule"))
        drop = str(post.get("metric_drop_percent", "")).strip()
        try:
            percent: float | str = float(drop)
        except ValueError:
            percent = drop
        data["material_change"] = {
            "rules": {name: {"enabled": name in ticked,
                             **({"triggers": kept["rules"][name]["triggers"]} if kept else {})}
                      for name in materiality.RULE_NAMES},
            "metric_drop_percent": percent,
            "lower_is_better": [m.strip() for m in post.get("lower_is_better", "").split(",") if m.strip()]}
    elif kept is not None:
        data["material_change"] = kept
    return data


def policy_form_initial(policy: Policy | None) -> dict[str, Any]:
    """The policy page's form filled with ``policy`` (a version to edit into the next one), or with the defaults
    for a new policy. Two group rows at least, one empty row after the policy's groups."""
    rules = materiality.in_force(policy.material_change if policy else None)[0]
    groups: list[tuple[str, int]] = (
        [(g.team.name, g.min_approvals) for g in policy.groups.all()] if policy else [])
    groups += [("", 1)] * max(2 - len(groups), 1 if policy else 0)
    return {
        "environment": policy.environment if policy else "", "namespace": policy.namespace if policy else "",
        "model_name": policy.model_name if policy else "", "sensitive_tag": policy.sensitive_tag if policy else "",
        "governed": policy.governed if policy else True, "groups": groups,
        "approval_expiry_days": policy.approval_expiry_days if policy else 30,
        "min_wait_hours": policy.min_wait_hours if policy else 0,
        "required_evidence": ", ".join(policy.required_evidence) if policy else "",
        "rules": [{"name": r.name, "title": r.title, "on": rules["rules"][r.name]["enabled"],
                   "triggers": rules["rules"][r.name]["triggers"]} for r in materiality.RULES],
        "metric_drop_percent": f"{rules['metric_drop_percent']:g}",
        "lower_is_better": ", ".join(rules["lower_is_better"]),
    }
