"""The governance attributes as plain data: their names in the API (model field names) and in facets
(camelCase), and how a value is checked and normalised.

Pure: no ORM, no Django, so the facet reader (``lineage/facets.py``) and the services share one set of rules.
The choice codes repeat the models' ``TextChoices`` (a test keeps them equal).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

LAWFUL_BASES = ("a", "b", "c", "d", "e", "f")
SPECIAL_CATEGORY_CONDITIONS = ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
DISPOSITIONS = ("deleted", "anonymised")
MODEL_STATUSES = ("development", "validation", "production", "retired")
SPECIAL_TAGS = ("SPECIAL_CAT", "PHI")  # a special-category condition is meaningful for these
KEY_HASH = re.compile(r"^[0-9a-f]{64}$")
ANNEX_POINT = re.compile(r"^[1-8](\([a-z]\))?$")
MAX_TEXT = 10000
MAX_LIST = 50


class Invalid(Exception):
    """A value that breaks a rule; ``field`` is the model field name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


Cleaner = Callable[[str, Any, bool], Any]


def _text(limit: int) -> Cleaner:
    def clean(name: str, value: Any, blank: bool) -> str:
        if not isinstance(value, str):
            raise Invalid(name, "must be a string")
        value = value.strip()
        if "\x00" in value:
            raise Invalid(name, "must not contain NUL characters")
        if not value and not blank:
            raise Invalid(name, "must not be empty")
        if len(value) > limit:
            raise Invalid(name, f"must be at most {limit} characters")
        return str(value)
    return clean


def _choice(choices: tuple[str, ...]) -> Cleaner:
    def clean(name: str, value: Any, blank: bool) -> str:
        if blank and (value is None or (isinstance(value, str) and not value.strip())):
            return ""
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise Invalid(name, f"must be one of {', '.join(choices)}" + (" (or empty)" if blank else ""))
        return value.strip().lower()
    return clean


def _bool(name: str, value: Any, blank: bool) -> bool:
    if not isinstance(value, bool):
        raise Invalid(name, "must be true or false")
    return value


def _strings(name: str, value: Any, blank: bool) -> list[str]:
    """A list of non-empty strings, stripped, without repeats, in the order given."""
    if not isinstance(value, list | tuple):
        raise Invalid(name, "must be a list of strings")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise Invalid(name, "every item must be a non-empty string")
        if "\x00" in item:
            raise Invalid(name, "items must not contain NUL characters")
        if len(item.strip()) > 200:
            raise Invalid(name, "every item must be at most 200 characters")
        if item.strip() not in out:
            out.append(item.strip())
    if len(out) > MAX_LIST:
        raise Invalid(name, f"at most {MAX_LIST} items")
    return out


def _date(name: str, value: Any, blank: bool) -> date | None:
    if value is None and blank:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Invalid(name, "must be a date, YYYY-MM-DD")


def _datetime(name: str, value: Any, blank: bool) -> datetime | None:
    if value is None and blank:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(name, "must be an ISO 8601 date and time") from None
    if not isinstance(value, datetime):
        raise Invalid(name, "must be an ISO 8601 date and time")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _tier(name: str, value: Any, blank: bool) -> int | None:
    if value is None and blank:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 9:
        raise Invalid(name, "must be an integer from 1 (most material) to 9")
    return int(value)


def _count(name: str, value: Any, blank: bool) -> int | None:
    if value is None and blank:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(name, "must be a whole number, 0 or more")
    return int(value)


def _annex(name: str, value: Any, blank: bool) -> str:
    text = str(_text(20)(name, value, blank))
    if text and not ANNEX_POINT.match(text):
        raise Invalid(name, "must be an EU AI Act Annex III point such as 5(b)")
    return text


def _owner(name: str, value: Any, blank: bool) -> str | None:
    """A username or email; the service resolves it to a user."""
    if blank and (value is None or (isinstance(value, str) and not value.strip())):
        return None
    return str(_text(254)(name, value, False))


def key_hashes(name: str, value: Any, blank: bool) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(name, "must be a list of SHA-256 hex digests")
    out = sorted({v.strip().lower() for v in value})
    if not all(KEY_HASH.match(v) for v in out):
        raise Invalid(name, "every item must be a SHA-256 hex digest (64 hex characters)")
    return out


# model field -> (facet key, cleaner). Order is the order of forms and audit payloads.
DATASET: dict[str, tuple[str, Cleaner]] = {
    "lawful_basis": ("lawfulBasis", _choice(LAWFUL_BASES)),
    "purposes": ("purposes", _strings),
    "consent_reference": ("consentReference", _text(500)),
    "special_category_condition": ("specialCategoryCondition", _choice(SPECIAL_CATEGORY_CONDITIONS)),
    "retention_until": ("retentionUntil", _date),
    "legal_hold": ("legalHold", _bool),
    "legal_hold_reason": ("legalHoldReason", _text(MAX_TEXT)),
    "disposition": ("disposition", _choice(DISPOSITIONS)),
    "disposed_at": ("disposedAt", _datetime),
}
INVENTORY: dict[str, tuple[str, Cleaner]] = {
    "owner": ("owner", _owner),
    "intended_use": ("intendedUse", _text(MAX_TEXT)),
    "tier": ("tier", _tier),
    "limitations": ("limitations", _text(MAX_TEXT)),
    "status": ("status", _choice(MODEL_STATUSES)),
    "retired_at": ("retiredAt", _datetime),
    "high_risk_annex": ("highRiskAnnex", _annex),
    "credit_decisioning": ("creditDecisioning", _bool),
}
PROFILE: dict[str, tuple[str, Cleaner]] = {
    "sox_in_scope": ("soxInScope", _bool),
    "hipaa_scope": ("hipaaScope", _bool),
    "human_in_loop": ("humanInLoop", _bool),
    "overseers": ("overseers", _strings),
    "change_record": ("changeRecord", _text(300)),
    "emergency": ("emergency", _bool),
    "log_location": ("logLocation", _text(500)),
    "log_retention_days": ("logRetentionDays", _count),
    "log_max_gap_minutes": ("logMaxGapMinutes", _count),
    "stop_control_tested_at": ("stopControlTestedAt", _datetime),
}
# What a pipeline may set in a facet (status and retirement are decided in the portal).
FACET_INVENTORY = ("owner", "intended_use", "tier", "limitations", "high_risk_annex", "credit_decisioning")


def clean(table: dict[str, tuple[str, Cleaner]], fields: dict[str, Any], *, blank: bool = True) -> dict[str, Any]:
    """Check and normalise ``fields`` (model field names). ``blank`` allows clearing a value."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in table:
            raise Invalid(name, "unknown field")
        out[name] = table[name][1](name, value, blank)
    return out


def dataset_problems(values: dict[str, Any]) -> list[Invalid]:
    """Rules across fields, on a whole record or on what one facet says."""
    out = []
    if values.get("lawful_basis") == "a" and not values.get("consent_reference"):
        out.append(Invalid("consent_reference", "lawful basis (a) consent needs a consent reference"))
    if values.get("legal_hold") and not values.get("legal_hold_reason"):
        out.append(Invalid("legal_hold_reason", "a legal hold needs a reason"))
    if values.get("disposed_at") and not values.get("disposition"):
        out.append(Invalid("disposition", "a disposal time needs a disposition (deleted or anonymised)"))
    return out


def subject_key_hash(key: str) -> str:
    """SHA-256 hex of the normalised key: surrounding space stripped, case folded, UTF-8."""
    return hashlib.sha256(key.strip().casefold().encode("utf-8")).hexdigest()


def from_facet(table: dict[str, tuple[str, Cleaner]], obj: dict[str, Any], allowed: tuple[str, ...] | None = None
               ) -> dict[str, Any]:
    """The model fields a facet object sets (camelCase keys), checked; values may not be blank."""
    raw = {name: obj[key] for name, (key, _) in table.items() if key in obj and (allowed is None or name in allowed)}
    return clean(table, raw, blank=False)
