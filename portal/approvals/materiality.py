"""The "material change" rule set of an approval policy: which changes to a model's lineage since its approval
are material, and which regulatory review each may trigger.

A policy version carries its rule set in ``Policy.material_change`` (versioned with the policy, audited by
``policy_create``). Policies written before the rule set existed hold ``{}``: the defaults below apply to them and
the page says "defaults". Pure: no ORM.

Each rule names the reviews it may raise; the portal does not decide that a review is due, it tells the
reviewer which rule fired and where to look:

- SR 26-2 revalidation: the Federal Reserve's model risk guidance (successor of SR 11-7) asks for validation
  again when a model's data, code or performance changes materially.
- EU AI Act substantial modification (Art. 3(23), Art. 43(4)): a change not foreseen in the conformity
  assessment that affects compliance or the intended purpose; it needs a new conformity assessment.
- Colorado AI Act impact-assessment update (C.R.S. 6-1-1703(3)): a deployer updates the impact assessment
  within 90 days of an intentional and substantial modification (new categories of input data included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SR_26_2 = "SR 26-2 revalidation"
EU_AI_ACT = "EU AI Act substantial modification"
COLORADO = "Colorado AI Act impact-assessment update"
TRIGGERS: tuple[str, ...] = (SR_26_2, EU_AI_ACT, COLORADO)
SHORT = {SR_26_2: "SR 26-2", EU_AI_ACT: "EU AI Act", COLORADO: "Colorado AI Act"}  # for table cells


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    title: str
    triggers: tuple[str, ...]
    description: str


RULES: tuple[Rule, ...] = (
    Rule("new_sensitive_tag", "New sensitive tag upstream", (EU_AI_ACT, COLORADO),
         "A sensitive tag (PII, PHI, special category, PCI, financial) reaches the model that did not when it was "
         "approved, or is newly set on an upstream dataset."),
    Rule("new_data_source", "New data source", (SR_26_2, EU_AI_ACT, COLORADO),
         "A dataset that was not upstream of the model when it was approved is upstream now (a new version of a "
         "dataset already there is not a new source)."),
    Rule("metric_drop", "Metric drop beyond the threshold", (SR_26_2,),
         "A metric of the model version is worse than at approval by more than metric_drop_percent of its "
         "approved value (lower is worse, except for the metrics named in lower_is_better)."),
    Rule("new_training_code", "New training code", (SR_26_2, EU_AI_ACT),
         "A code commit upstream of the model that was not there when it was approved."),
)
RULE_NAMES: tuple[str, ...] = tuple(r.name for r in RULES)
# What a change of the diff is about (``diff.Change.element``).
ELEMENTS = ("node", "edge", "tag", "sensitive", "metric", "parameter", "artifact", "policy", "walk")
BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}

DEFAULTS: dict[str, Any] = {
    "rules": {r.name: {"enabled": True, "triggers": list(r.triggers)} for r in RULES},
    "metric_drop_percent": 2.0,
    "lower_is_better": ["loss", "log_loss", "logloss", "rmse", "mse", "mae", "error", "brier"],
}


def validate(value: Any) -> list[tuple[str, str]]:
    """Problems with a rule set as (dotted field, message); empty when it is well formed. Keys left out keep
    their defaults."""
    if not isinstance(value, dict):
        return [("material_change", "must be an object with rules, metric_drop_percent and lower_is_better")]
    problems: list[tuple[str, str]] = []
    for key in value:
        if key not in DEFAULTS:
            problems.append((f"material_change.{key}", "unknown key; expected rules, metric_drop_percent or "
                             "lower_is_better"))
    rules = value.get("rules", {})
    if not isinstance(rules, dict):
        problems.append(("material_change.rules", "must be an object of rule name to {enabled, triggers}"))
        rules = {}
    for name, rule in rules.items():
        where = f"material_change.rules.{name}"
        if name not in BY_NAME:
            problems.append((where, f"unknown rule; expected one of {', '.join(RULE_NAMES)}"))
            continue
        if not isinstance(rule, dict):
            problems.append((where, "must be an object with enabled and triggers"))
            continue
        for k in rule:
            if k not in ("enabled", "triggers"):
                problems.append((f"{where}.{k}", "unknown key; expected enabled or triggers"))
        if "enabled" in rule and not isinstance(rule["enabled"], bool):
            problems.append((f"{where}.enabled", "must be true or false"))
        triggers = rule.get("triggers", [])
        if not isinstance(triggers, list) or any(t not in TRIGGERS for t in triggers):
            problems.append((f"{where}.triggers", f"must be a list of: {'; '.join(TRIGGERS)}"))
    pct = value.get("metric_drop_percent", DEFAULTS["metric_drop_percent"])
    if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct <= 100:
        problems.append(("material_change.metric_drop_percent", "must be a number from 0 to 100"))
    lower = value.get("lower_is_better", [])
    if not isinstance(lower, list) or any(not isinstance(m, str) or not m.strip() or len(m) > 200 for m in lower):
        problems.append(("material_change.lower_is_better", "must be a list of metric names"))
    return problems


def normalise(value: dict[str, Any] | None) -> dict[str, Any]:
    """A validated rule set completed with the defaults, in its stored form (every rule, every key)."""
    value = value or {}
    given = value.get("rules") or {}
    rules = {}
    for r in RULES:
        mine = given.get(r.name) or {}
        rules[r.name] = {"enabled": bool(mine.get("enabled", True)),
                         "triggers": [t for t in TRIGGERS if t in mine.get("triggers", r.triggers)]}
    return {"rules": rules,
            "metric_drop_percent": float(value.get("metric_drop_percent", DEFAULTS["metric_drop_percent"])),
            "lower_is_better": sorted({m.strip().lower() for m in value.get("lower_is_better",
                                                                           DEFAULTS["lower_is_better"])})}


def in_force(stored: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
    """The rule set a policy version applies and whether it is the defaults (a policy written before rule sets)."""
    return normalise(stored), not stored


def metric_drop(name: str, before: Any, after: Any, rules: dict[str, Any]) -> float | None:
    """How far ``after`` is worse than ``before``, in percent of ``before`` (of 1 when it was 0); None when the
    values are not numbers or it is not worse."""
    if isinstance(before, bool) or isinstance(after, bool):
        return None
    if not isinstance(before, int | float) or not isinstance(after, int | float):
        return None
    lower = name.lower() in rules["lower_is_better"] or any(
        name.lower().endswith(f"_{m}") for m in rules["lower_is_better"])
    worse = (after - before) if lower else (before - after)
    if worse <= 0:
        return None
    return 100.0 * worse / (abs(before) or 1.0)


def describe(stored: dict[str, Any] | None) -> str:
    """A policy version's rule set in one line, for people."""
    values, defaults = in_force(stored)
    on = [r.title.lower() for r in RULES if values["rules"][r.name]["enabled"]]
    text = ("material: " + ", ".join(on) if on else "no change is material")
    if values["rules"]["metric_drop"]["enabled"]:
        text += f" (metrics worse by more than {values['metric_drop_percent']:g}%)"
    return text + (" [defaults]" if defaults else "")
