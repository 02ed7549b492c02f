"""The OpenLineage ``columnLineage`` dataset facet read into column links. Pure: no ORM.

Spec 1-2-x: ``fields.<output field>.inputFields[]`` each name ``namespace``, ``name`` and ``field`` of an input
column and list ``transformations[]`` (``type`` DIRECT or INDIRECT, ``subtype`` IDENTITY, TRANSFORMATION,
AGGREGATION, FILTER, JOIN, GROUP_BY, SORT, WINDOW, CONDITIONAL, ``description``, ``masking``). The facet's
``dataset`` list names input columns that affect the whole output dataset (a filter or join key): those become
links to the output's pseudo-column ``""``. Producers before 1-1 put one ``transformationType`` and
``transformationDescription`` on the output field instead: ``IDENTITY`` reads as DIRECT/IDENTITY, any other
value as DIRECT/TRANSFORMATION. An input field without any transformation is DIRECT with no subtype: the facet
says the output is derived from it, and a sensitive tag must not be lost for want of a subtype (an entry of
the dataset-wide list without one is INDIRECT: it shapes rows, not values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_FIELD = 500  # as NodeTag.field
WHOLE_DATASET = ""  # the output pseudo-column of the facet's dataset-wide list
TYPES = ("DIRECT", "INDIRECT")
SUBTYPES = ("IDENTITY", "TRANSFORMATION", "AGGREGATION", "FILTER", "JOIN", "GROUP_BY", "SORT", "WINDOW",
            "CONDITIONAL")


@dataclass(frozen=True, slots=True)
class ColumnLink:
    """One input column feeding one output column (``out_field`` "" for the whole dataset), one transformation."""

    out_field: str
    namespace: str
    name: str
    field: str
    type: str
    subtype: str
    description: str = ""
    masking: bool = False


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _transformations(raw: Any, legacy_type: str, legacy_description: str, default: str
                     ) -> list[tuple[str, str, str, bool]]:
    out: list[tuple[str, str, str, bool]] = []
    if isinstance(raw, list):
        for t in raw:
            if not isinstance(t, dict):
                continue
            kind = _text(t.get("type")).upper()
            out.append((kind if kind in TYPES else "DIRECT", _text(t.get("subtype")).upper()[:20],
                        _text(t.get("description"))[:2000], t.get("masking") is True))
    if out:
        return out
    if legacy_type:
        subtype = "IDENTITY" if legacy_type.upper() == "IDENTITY" else "TRANSFORMATION"
        return [("DIRECT", subtype, legacy_description[:2000], False)]
    return [(default, "", legacy_description[:2000], False)]


def _inputs(out_field: str, raw: Any, where: str, legacy: tuple[str, str], warnings: list[str] | None
            ) -> list[ColumnLink]:
    links: list[ColumnLink] = []
    if not isinstance(raw, list):
        if warnings is not None and raw is not None:
            warnings.append(f"{where} is not a list: ignored")
        return links
    for i, item in enumerate(raw):
        ns, name, fld = (_text(item.get(k)) if isinstance(item, dict) else "" for k in ("namespace", "name", "field"))
        if not (ns and name and fld) or len(fld) > MAX_FIELD:
            if warnings is not None:
                warnings.append(f"{where}[{i}] needs namespace, name and a field of at most {MAX_FIELD} "
                                "characters: ignored")
            continue
        assert isinstance(item, dict)
        default = "DIRECT" if out_field else "INDIRECT"
        for kind, subtype, description, masking in _transformations(item.get("transformations"), *legacy, default):
            links.append(ColumnLink(out_field, ns, name, fld, kind, subtype, description, masking))
    return links


def column_links(facets: dict[str, Any], where: str = "columnLineage",
                 warnings: list[str] | None = None) -> list[ColumnLink]:
    """The links a dataset's ``columnLineage`` facet states, in the facet's order, without repeats."""
    facet = facets.get("columnLineage")
    if not isinstance(facet, dict):
        return []
    links: list[ColumnLink] = []
    fields = facet.get("fields")
    if isinstance(fields, dict):
        for out_field, spec in fields.items():
            if not isinstance(spec, dict) or not out_field or len(out_field) > MAX_FIELD:
                if warnings is not None:
                    warnings.append(f"{where}.fields.{out_field[:80]} is not a field lineage: ignored")
                continue
            legacy = (_text(spec.get("transformationType")), _text(spec.get("transformationDescription")))
            links.extend(_inputs(out_field, spec.get("inputFields"), f"{where}.fields.{out_field}.inputFields",
                                 legacy, warnings))
    elif fields is not None and warnings is not None:
        warnings.append(f"{where}.fields is not an object: ignored")
    links.extend(_inputs(WHOLE_DATASET, facet.get("dataset"), f"{where}.dataset", ("", ""), warnings))
    return list(dict.fromkeys(links))
