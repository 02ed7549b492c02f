"""The attributes an evidence document may carry, per document type: what each control reads from it.

``Document.attributes`` is a JSON object of type-specific facts. The report checks read some of them (the
validator of a validation report, the trainee of an oversight training record, the de-identification method
...). This table is the contract: ``services.document_upload`` refuses keys a type does not define and names
the required ones that are missing; ``docs/governance.md`` and the OpenAPI description of ``attributes`` are
generated from it. ``notes`` (free text) is accepted on every type and read by no control.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.lib.errors import FieldError


@dataclass(frozen=True, slots=True)
class Attr:
    key: str
    kind: str  # str | int | number | bool | object | list | username | node_id | choice
    read_by: str  # the controls that read it ("" = informational)
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()


A = Attr
NOTES = A("notes", "str", "", "Free text for people.")
SEVERITIES = ("low", "medium", "high")

SCHEMA: dict[str, tuple[Attr, ...]] = {
    "validation_report": (
        A("validator", "username", "F3", "Who validated (default: the document's author). Must not be an author "
          "or the owner of the model and must belong to the validation unit."),
        A("findings", "list", "F3", "Findings as objects {\"severity\": low|medium|high, \"status\": open|closed, "
          "\"text\": ...}; open high-severity findings need conditions_of_use."),
        A("conditions_of_use", "str", "F3", "Approved conditions under which the model may be used."),
        A("non_material_change_of", "node_id", "F3", "The model version node id this version is a non-material "
          "change of (its validation then stands for this one)."),
        A("outcome", "choice", "", "The validation outcome.",
          choices=("approved", "approved with conditions", "rejected")),
        A("metrics", "object", "", "Performance measured by the validator, metric -> value."),
    ),
    "monitoring_plan": (
        A("thresholds", "object", "F4", "Metric -> threshold the plan sets.", required=True),
        A("cadence", "str", "", "How often results are produced, e.g. weekly."),
        A("metrics", "list", "A10", "The metrics the post-market monitoring plan collects (metric names)."),
        A("frequency_days", "int", "A10", "Each metric has a result at least this often (days)."),
    ),
    "monitoring_result": (
        A("breaches", "list", "F4", "Threshold breaches as objects {\"metric\": ..., \"issue\": <issue key>}; a "
          "breach without an issue fails F4."),
        A("metrics", "object", "", "Measured values, metric -> value."),
    ),
    "deid_determination": (
        A("method", "choice", "H9", "§164.514(b)(2) safe harbor or §164.514(b)(1) expert determination.",
          required=True, choices=("safe_harbor", "expert_determination")),
        A("expert", "str", "", "The expert, for an expert determination."),
    ),
    "oversight_training": (
        A("trainee", "username", "A6", "The overseer trained (the username a deployment profile names).",
          required=True),
    ),
    "risk_register": (
        A("residual_risks_accepted_by", "username", "A1", "Who accepted the residual risks; A1 fails without."),
        A("open_risks", "int", "", "Risks still open."),
        A("high_impact", "int", "", "Risks rated high impact."),
    ),
    "ropa_entry": (
        A("reasons", "object", "G10", "Art. 30(1) item -> why it cannot be filled, for items (f) and (g) left "
          "out of the sections."),
    ),
    "dpia": (
        A("residual_risk", "choice", "", "Residual risk after measures.", choices=SEVERITIES),
        A("dpo_consulted", "bool", "", "The DPO was consulted (Art. 35(2))."),
        A("prior_consultation_required", "bool", "", "Art. 36 prior consultation is required."),
    ),
    "model_documentation": (
        A("model_card", "bool", "", "The document is a model card."),
    ),
}

# The sections the checks look for in ``Document.sections`` (other section names are kept, and ignored).
SECTIONS: dict[str, tuple[str, str]] = {
    "dpia": ("G12", "35(7)(a), 35(7)(b), 35(7)(c), 35(7)(d)"),
    "ropa_entry": ("G10", "30(1)(a) ... 30(1)(e) required; 30(1)(f), 30(1)(g) or a reason in attributes.reasons"),
    "model_documentation": ("F2", "purpose, method, limitations, testing"),
    "annex_iv": ("A3", "1, 2, ... 9 (the Annex IV points)"),
    "instructions_for_use": ("A5", "purpose, accuracy, limitations, oversight, logging"),
}

_PYTHON = {"str": str, "username": str, "node_id": str, "choice": str, "int": int, "bool": bool, "object": dict,
           "list": list}


def attributes_for(doc_type: str) -> tuple[Attr, ...]:
    return (*SCHEMA.get(doc_type, ()), NOTES)


def _type_ok(attr: Attr, value: Any) -> bool:
    if attr.kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if attr.kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, _PYTHON[attr.kind]) and (not isinstance(value, str) or bool(value.strip())
                                                      or attr.kind == "str")


def attributes_check(*, doc_type: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """Refuse what the type does not define, name missing required keys, check each value's kind."""
    known = {a.key: a for a in attributes_for(doc_type)}
    unknown = sorted(set(attributes) - set(known))
    if unknown:
        allowed = ", ".join(known)
        raise FieldError(f"attributes.{unknown[0]}", f"A {doc_type} document has no attribute {unknown[0]!r}; "
                                                     f"its attributes are: {allowed} (docs/governance.md).")
    for attr in known.values():
        if attr.key not in attributes:
            if attr.required:
                raise FieldError(f"attributes.{attr.key}", f"A {doc_type} document needs {attr.key!r}: "
                                                           f"{attr.description}")
            continue
        value = attributes[attr.key]
        if not _type_ok(attr, value):
            raise FieldError(f"attributes.{attr.key}", f"must be a {attr.kind.replace('_', ' ')}.")
        if attr.choices and value not in attr.choices:
            raise FieldError(f"attributes.{attr.key}", f"must be one of {', '.join(attr.choices)}.")
    return attributes


def schema_markdown() -> str:
    """The table in docs/governance.md and the OpenAPI description."""
    lines = ["| Document type | Attribute | Kind | Required | Read by | Meaning |", "|---|---|---|---|---|---|"]
    for doc_type, attrs in SCHEMA.items():
        for a in attrs:
            kind = f"one of {', '.join(a.choices)}" if a.choices else a.kind
            lines.append(f"| {doc_type} | `{a.key}` | {kind} | {'yes' if a.required else 'no'} | "
                         f"{a.read_by or '-'} | {a.description} |")
    lines.append(f"| every type | `{NOTES.key}` | str | no | - | {NOTES.description} |")
    return "\n".join(lines)
