"""The check modules are found, not listed: each framework of the catalog has its checks, and a framework
whose module is missing fails loudly instead of reporting every control as "not evaluated"."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.reports import checks
from portal.reports.catalog import FRAMEWORKS, HIPAA, Control, Framework


def test_every_framework_has_checks_from_its_module() -> None:
    registered = checks.checks_load()
    for framework in FRAMEWORKS.values():
        assert any(c.id in registered for c in framework.controls), framework.id


def test_a_framework_whose_check_module_is_missing_fails_loudly(monkeypatch) -> None:
    without_hipaa = {cid: fn for cid, fn in checks.CHECKS.items() if cid not in {c.id for c in HIPAA.controls}}
    monkeypatch.setattr(checks, "CHECKS", without_hipaa)
    with pytest.raises(ImproperlyConfigured, match="hipaa"):
        checks.checks_load()


def test_a_check_for_an_unknown_control_fails_loudly(monkeypatch) -> None:
    monkeypatch.setattr(checks, "CHECKS", {**checks.CHECKS, "ZZ9": lambda facts: None})
    with pytest.raises(ImproperlyConfigured, match="ZZ9"):
        checks.checks_load()


def test_evaluating_a_framework_without_checks_is_an_error() -> None:
    stray = Framework("stray", "A framework nobody wrote checks for", (Control("S1", "x", "y", "z", "P"),))
    with pytest.raises(ImproperlyConfigured, match="stray"):
        checks.evaluate(stray, facts=None)  # type: ignore[arg-type]
