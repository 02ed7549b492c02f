"""The upload form of the evidence pages: parsing only; the rules are the service's."""

from __future__ import annotations

from typing import Any

from django import forms

from portal.lib.errors import FieldError
from portal.lib.jsonbody import json_loads_bounded

from .models import DocumentType


class UploadForm(forms.Form):
    file = forms.FileField()
    doc_type = forms.ChoiceField(label="Type", choices=DocumentType.choices)
    title = forms.CharField(max_length=500)
    version = forms.CharField(max_length=50, initial="1")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    effective_from = forms.DateTimeField(required=False, help_text="UTC, e.g. 2026-01-31 09:00. Empty: now.")
    effective_until = forms.DateTimeField(required=False)
    retention_until = forms.DateField(required=False, help_text="Empty: the type's default retention.")
    node_ids = forms.CharField(label="Node ids", required=False, widget=forms.Textarea(attrs={"rows": 2}),
                               help_text="One per line, e.g. modelVersion:credit-risk:credit-scoring#7.")
    release_ids = forms.CharField(label="Release ids", required=False, help_text="Comma-separated, e.g. 12, 14.")
    sections = forms.CharField(required=False, help_text="Comma-separated, e.g. 35(7)(a), 35(7)(b).")
    attributes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                 help_text="A JSON object of type-specific facts.")
    supersedes = forms.UUIDField(required=False, help_text="The id of the document this version replaces.")

    def clean_node_ids(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["node_ids"].splitlines() if line.strip()]

    def clean_release_ids(self) -> list[int]:
        parts = [p.strip().lstrip("#") for p in self.cleaned_data["release_ids"].split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise forms.ValidationError("Release ids are numbers.")
        return [int(p) for p in parts]

    def clean_sections(self) -> list[str]:
        return [s.strip() for s in self.cleaned_data["sections"].split(",") if s.strip()]

    def clean_attributes(self) -> dict[str, Any]:
        raw = self.cleaned_data["attributes"].strip()
        if not raw:
            return {}
        try:
            value = json_loads_bounded(raw, field="attributes")
        except FieldError as exc:
            raise forms.ValidationError(exc.message) from exc
        except ValueError as exc:
            raise forms.ValidationError("Not valid JSON.") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("A JSON object is needed, e.g. {\"residual_risk\": \"low\"}.")
        return value
