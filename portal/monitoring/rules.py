"""When a monitoring result is a breach. Pure: plain values in, reasons out."""

from __future__ import annotations

from typing import Any

from lineage.monitoring import Measure


def tier_limit(limits: dict[str, Any], tier: int | None) -> float | None:
    """The limit of ``tier``; a model without a tier gets the strictest (most material) tier's limit."""
    if not limits:
        return None
    if tier is not None and str(tier) in limits:
        return float(limits[str(tier)])
    if tier is not None:  # a tier less material than any listed: the least strict listed limit
        below = [int(t) for t in limits if int(t) <= tier]
        if below:
            return float(limits[str(max(below))])
    return float(limits[str(min(int(t) for t in limits))])


def breaches(m: Measure, *, psi_max: float | None, ks_max: float | None) -> list[str]:
    """Why ``m`` is a breach: past its own threshold, past the policy's drift limits, or a failed assertion."""
    out = []
    if m.success is False:
        out.append(f"assertion {m.name}" + (f" on {m.column}" if m.column else "") + " failed")
    if m.value is not None and m.threshold is not None:
        if m.breach_when == "below" and m.value < m.threshold:
            out.append(f"{m.name} {m.value:g} is below its threshold {m.threshold:g}")
        elif m.breach_when == "above" and m.value > m.threshold:
            out.append(f"{m.name} {m.value:g} is above its threshold {m.threshold:g}")
    what = f"{m.name}" + (f" ({m.feature})" if m.feature else "")
    if m.psi is not None and psi_max is not None and m.psi > psi_max:
        out.append(f"{what} PSI {m.psi:g} exceeds the tier limit {psi_max:g}")
    if m.ks is not None and ks_max is not None and m.ks > ks_max:
        out.append(f"{what} KS {m.ks:g} exceeds the tier limit {ks_max:g}")
    return out
