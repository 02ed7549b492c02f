"""Releases and what followed them: approvals, deployments, violations and evidence documents."""

from __future__ import annotations

from .. import pdf_words as W
from ..pdf_text import clean
from .base import StoryBase, _list


class ReleaseSections(StoryBase):
    def approvals(self, level: int) -> None:
        approvals = [a for a in _list(self.b.get("approvals")) if isinstance(a, dict)]
        self.heading("Approval signature manifests", level)
        if not approvals:
            self.p("No approvals in this report.", "note")
        for a in approvals:
            self.mark("approvals")
            self.heading(f"Release {clean(a.get('release'))} \u00b7 {clean(a.get('model'))} \u2192 "
                         f"{clean(a.get('environment'))}", level + 1)
            pairs = [("Model", a.get("model")), ("Environment", a.get("environment")), ("State", a.get("state")),
                     ("Policy", a.get("policy")), ("Subject digest", a.get("subject_digest")),
                     ("Decided", W.human_date(a.get("decided_at"), time=True))]
            if "break_glass" in a:
                pairs.append(("Break glass", "YES" if a.get("break_glass") is True else "no"))
            self.kv(pairs, mono=("Subject digest",))
            if a.get("break_glass") is True:
                self.p("Break-glass release: deployed under the emergency procedure, outside the normal approval "
                       "quorum.", "warn")
            sigs = [s for s in _list(a.get("signatures")) if isinstance(s, dict)]
            # The digest each signer reviewed, in full: what they signed is checkable against the subject digest.
            self.table(["Printed name", "Username", "Signed at", "Meaning", "Reviewed digest", "Reason",
                        "Authenticated by", "Voided", "Audit seq"],
                       [[s.get("printed_name"), s.get("username"), W.human_date(s.get("signed_at"), time=True),
                         s.get("meaning"), s.get("reviewed_digest"), s.get("reason"),
                         " + ".join(clean(m) for m in _list(s.get("auth_methods"))) or None,
                         "VOIDED" if s.get("voided") is True else "no", s.get("audit_seq")]
                        for s in sigs],
                       weights=[2, 1.1, 1.8, 1.1, 3.2, 2.8, 1.1, 1, 0.9], mono=(4,), empty="No signatures.")

    def deployments(self, level: int) -> None:
        self.mark("deployments")
        deps = [d for d in _list(self.b.get("deployments")) if isinstance(d, dict)]
        self.heading("Deployments", level)
        self.table(["Model", "Environment", "State", "Deployed at", "Release", "Approved", "Node id"],
                   [[d.get("model"), d.get("environment"), d.get("state"),
                     W.human_date(d.get("deployed_at"), time=True), d.get("release"),
                     d.get("approved"), d.get("node_id")] for d in deps],
                   weights=[2.5, 1.5, 1, 2.2, 1.1, 1.4, 3], flag_col=5, where="deployments",
                   empty="No deployments in this report.")

    def violations(self, level: int) -> None:
        self.mark("violations")
        vs = [v for v in _list(self.b.get("violations")) if isinstance(v, dict)]
        self.heading("Violations", level)
        self.table(["Id", "Model", "Deployment", "Environment", "Found at", "Reason"],
                   [[v.get("id"), v.get("model"), v.get("deployment"), v.get("environment"),
                     W.human_date(v.get("found_at"), time=True),
                     v.get("reason")] for v in vs],
                   weights=[0.7, 2, 2.5, 1.4, 2, 3], where="violations", empty="No violations in this report.")

    def documents(self, level: int, docs: list, *, title: str = "Evidence documents") -> None:
        self.mark("documents")
        docs = [d for d in docs if isinstance(d, dict)]
        self.heading(title, level)
        self.table(
            ["Document", "Author and approval", "Effective / retention", "SHA-256", "Covers"],
            [[f"{clean(d.get('title'))}\n{clean(d.get('type'))} v{clean(d.get('version'))}\n{clean(d.get('id'))}",
              f"by {clean(d.get('author'))}\napproved by {clean(d.get('approved_by'))}\n"
              f"{W.human_date(d.get('approved_at'))}",
              f"in effect from {W.human_date(d.get('effective_from'))}\nkept until "
              f"{W.human_date(d.get('retention_until'))}",
              d.get("sha256"), "\n".join(clean(c) for c in _list(d.get("covers"))[:20])] for d in docs],
            weights=[3, 2.6, 2.4, 2.6, 2.4], mono=(3,), where="documents", empty="No evidence documents.")
