"""Control checks: one small function per control id, over ``Facts``. Pure: no ORM.

A check returns a ``Result``: pass, fail (with the failing entities and why), not evaluated (with the
data that is missing), not applicable (nothing in scope is subject to the rule, said in its reason:
"no production deployment with PHI upstream") or, for evidence-only controls, evidence. A control with
nothing in scope is not evidence of compliance, so "not applicable" is never counted as a pass.

Every module of this package is a check module: ``checks_load`` imports them all (a new framework's module is
found by being here, not by being listed) and fails loudly when a framework of the catalog has no check, or a
check names a control no framework has.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..catalog import FRAMEWORKS, Control, Framework
from ..facts import Facts, NodeFact

PASS, FAIL, NOT_EVALUATED, EVIDENCE = "pass", "fail", "not_evaluated", "evidence"
NOT_APPLICABLE = "not_applicable"
STATUSES = (PASS, FAIL, NOT_APPLICABLE, NOT_EVALUATED, EVIDENCE)


@dataclass(slots=True)
class Failing:
    node_id: str
    kind: str
    name: str
    why: str

    def as_dict(self) -> dict[str, str]:
        return {"node_id": self.node_id, "kind": self.kind, "name": self.name, "why": self.why}


@dataclass(slots=True)
class Result:
    status: str
    reason: str
    failing: list[Failing] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


CheckFn = Callable[[Facts], Result]
CHECKS: dict[str, CheckFn] = {}


def check(control_id: str) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        CHECKS[control_id] = fn
        return fn

    return register


def years_later(t: datetime, years: int) -> date:
    """The calendar date ``years`` after ``t`` (29 February falls back to the 28th)."""
    d = t.date()
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def failing(n: NodeFact, why: str) -> Failing:
    return Failing(n.node_id, n.kind, n.label, why)


def verdict(subjects: Iterable[Any], fails: list[Failing], *, what: str, none: str, columns: list[str] | None = None,
            rows: list[list[Any]] | None = None) -> Result:
    """Pass or fail over ``subjects``, saying how many were checked; not applicable when there were none."""
    count = len(list(subjects))
    if fails:
        failed = len({f.node_id for f in fails})
        reason = f"{failed} of {count} {what} fail." if failed <= count else f"{failed} failing: {what}."
        return Result(FAIL, reason, fails, columns or [], rows or [])
    if not count:
        return Result(NOT_APPLICABLE, f"Not applicable: {none}.", [], columns or [], rows or [])
    return Result(PASS, f"All {count} {what} pass.", [], columns or [], rows or [])


def evaluate(framework: Framework, facts: Facts,
             progress: Callable[[Control], None] | None = None) -> list[tuple[Control, Result]]:
    checks_load()
    if not any(c.id in CHECKS for c in framework.controls):
        raise ImproperlyConfigured(f"no check is registered for framework {framework.id!r}: its check module is "
                                   "missing from portal/reports/checks/")
    out = []
    for control in framework.controls:
        fn = CHECKS.get(control.id)
        if fn is None:
            result = Result(NOT_EVALUATED, "The portal does not hold the data this control needs.",
                            missing=[control.needs or "data not modelled"])
        else:
            result = fn(facts)
        out.append((control, result))
        if progress:
            progress(control)
    return out


def checks_load() -> dict[str, CheckFn]:
    """Import every check module of this package (each registers its checks with ``@check``), then make sure
    the registry and the catalog agree."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    controls = {c.id: f.id for f in FRAMEWORKS.values() for c in f.controls}
    unknown = sorted(set(CHECKS) - set(controls))
    if unknown:
        raise ImproperlyConfigured(f"checks for controls no framework has: {', '.join(unknown)}")
    empty = [f.id for f in FRAMEWORKS.values() if not any(c.id in CHECKS for c in f.controls)]
    if empty:
        raise ImproperlyConfigured(f"no check is registered for framework(s) {', '.join(empty)}: their check "
                                   "module is missing from portal/reports/checks/")
    return CHECKS
