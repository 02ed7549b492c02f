"""Forms of the governance pages. They parse the POST; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms

from . import parameters as P
from .models import Disposition, LawfulBasis, ModelInventory, SpecialCategoryCondition

_NONE = [("", "—")]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


class DatasetGovernanceForm(forms.Form):
    lawful_basis = forms.ChoiceField(choices=_NONE + LawfulBasis.choices, required=False)
    purposes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="One per line.")
    consent_reference = forms.CharField(max_length=500, required=False, help_text="Required with basis (a).")
    special_category_condition = forms.ChoiceField(choices=_NONE + SpecialCategoryCondition.choices,
                                                   required=False, label="Special-category condition (Art. 9(2))")
    retention_until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    legal_hold = forms.BooleanField(required=False)
    legal_hold_reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    disposition = forms.ChoiceField(choices=_NONE + Disposition.choices, required=False)

    def values(self) -> dict[str, Any]:
        v = dict(self.cleaned_data)
        v["purposes"] = [p.strip() for p in v["purposes"].splitlines() if p.strip()]
        return v


class ModelInventoryForm(forms.Form):
    owner = forms.CharField(max_length=254, required=False, help_text="Username or email of a portal user.")
    intended_use = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    tier = forms.IntegerField(min_value=1, max_value=9, required=False, help_text="1 = most material.")
    limitations = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    status = forms.ChoiceField(choices=ModelInventory.Status.choices)
    high_risk_annex = forms.CharField(max_length=20, required=False, label="EU AI Act Annex III point",
                                      help_text="e.g. 5(b); empty when not high-risk.")
    credit_decisioning = forms.BooleanField(required=False)

    def values(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class DeploymentProfileForm(forms.Form):
    sox_in_scope = forms.BooleanField(required=False, label="SOX in scope")
    hipaa_scope = forms.BooleanField(required=False, label="HIPAA scope (ePHI)")
    human_in_loop = forms.BooleanField(required=False, label="Human in the loop")
    overseers = forms.CharField(required=False, help_text="Usernames, comma-separated.")
    change_record = forms.CharField(max_length=300, required=False)
    emergency = forms.BooleanField(required=False, label="Emergency change")
    log_location = forms.CharField(max_length=500, required=False, help_text="Where its inference logs are kept.")
    log_retention_days = forms.IntegerField(min_value=0, required=False)
    log_max_gap_minutes = forms.IntegerField(min_value=0, required=False, help_text="Longest gap in its logs "
                                             "while active, as measured.")
    stop_control_tested_at = forms.DateTimeField(required=False, label="Stop/override control last tested",
                                                 help_text="YYYY-MM-DD HH:MM, UTC.")

    def values(self) -> dict[str, Any]:
        v = dict(self.cleaned_data)
        v["overseers"] = _lines(v["overseers"])
        return v


class SubjectKeysForm(forms.Form):
    keys = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), strip=False,
                           help_text="One key per line. Only a SHA-256 of each is kept.")

    def values(self) -> list[str]:
        return [k for k in self.cleaned_data["keys"].splitlines() if k.strip()]


def _tiers_text(value: dict[str, int]) -> str:
    return ", ".join(f"{t}: {d}" for t, d in value.items())


class ParametersForm(forms.Form):
    """One field per parameter, initially the values in force; only the changed ones are published."""

    effective_from = forms.DateTimeField(required=False, help_text="Default: now. YYYY-MM-DD HH:MM, UTC.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, current: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current = current
        for p in P.PARAMS:
            label = f"{p.name} ({p.controls}){' — law' if p.law else ''}"
            value = current.get(p.name, p.default)
            if p.kind == "int":
                field: forms.Field = forms.IntegerField(label=label, help_text=p.description, initial=value)
            elif p.kind in ("tiers", "tier_limits"):
                field = forms.CharField(label=label, help_text=p.description + " As 1: 30, 2: 90.",
                                        initial=_tiers_text(value))
            else:
                field = forms.CharField(label=label, help_text=p.description, initial=value)
            self.fields[f"p_{p.name}"] = field

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for p in P.PARAMS:
            raw = data.get(f"p_{p.name}")
            if p.kind in ("tiers", "tier_limits") and isinstance(raw, str):
                number = int if p.kind == "tiers" else float
                try:
                    data[f"p_{p.name}"] = {t.strip(): number(d) for t, d in (part.split(":") for part in
                                                                            raw.split(",") if part.strip())}
                except ValueError:
                    self.add_error(f"p_{p.name}", "Write it as tier: days, e.g. 1: 30, 2: 90.")
        return data

    def changed_values(self) -> dict[str, Any]:
        out = {}
        for p in P.PARAMS:
            value = self.cleaned_data.get(f"p_{p.name}")
            if value is not None and value != self.current.get(p.name, p.default):
                out[p.name] = value
        return out
