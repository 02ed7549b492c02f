"""The audit evidence appendix: the chain's state and the proofs of the entries the report cites."""

from __future__ import annotations

from .. import pdf_words as W
from ..pdf_text import clean
from .base import LIST_CAP, StoryBase, _dict, _list


class AppendixSection(StoryBase):
    def appendix(self) -> None:
        self.mark("appendix")
        audit = _dict(self.b.get("audit"))
        self.heading("Appendix: audit evidence", 0)
        self.heading("Audit chain", 1)
        chain = _dict(audit.get("chain"))
        ok = chain.get("ok") is True
        if not chain:
            state = "not in the bundle"
        elif chain.get("ok") is None:
            state = "NOT VERIFIED (no verification on record)"
        else:
            state = "VERIFIED" if ok else "NOT VERIFIED"
        self.kv([("Status", state),
                 ("Entries", W.count(chain.get("entries"), "entry")), ("Head", chain.get("head")),
                 ("Last verified", W.human_date(chain.get("verified_at"), time=True))], mono=("Head",))
        for problem in _list(chain.get("problems"))[:LIST_CAP]:
            self.p(f"Problem: {clean(problem)}", "warn")
        self.heading("Checkpoint", 1)
        cp = _dict(audit.get("checkpoint"))
        fresh = cp.get("made_for_this_report") is True
        self.p("Signed when this report was generated, so it covers every approval the report shows."
               if fresh else "The newest signed checkpoint (nothing was appended since it was signed).", "note")
        self.kv([("Tree size", W.count(cp.get("size"), "entry")), ("Root", cp.get("root")),
                 ("Key id", cp.get("key_id")), ("Signed", W.human_date(cp.get("created_at"), time=True))],
                mono=("Root", "Key id"))
        self.heading("Inclusion proofs", 1)
        proofs = [x for x in _list(audit.get("proofs")) if isinstance(x, dict)]
        if not proofs:
            self.p("No inclusion proofs in this report.", "note")
        else:
            verified = sum(1 for x in proofs if x.get("verified") is True)
            self.p(f"{W.count(len(proofs), 'approval entry').capitalize()} proven against the checkpoint: "
                   f"{W.number(verified)} verified. The proof paths (hashes) are in the JSON bundle "
                   "(audit.proofs), for anyone to recompute the root.", "body" if verified == len(proofs) else "warn")
        self.mark("inclusion proofs")
        self.table(["Entry", "Audit sequence", "Checkpoint size", "Verified"],
                   [[x.get("label"), x.get("seq"), x.get("tree_size"), x.get("verified") is True] for x in proofs],
                   weights=[5, 1.5, 1.5, 1], flag_col=3, where="audit.proofs", empty="")
        self.parameters()

    def parameters(self) -> None:
        """The policy parameters the report was evaluated with, as a table (the cover names the version)."""
        params = _dict(self.report.get("parameters"))
        values = _dict(params.get("values"))
        if not values:
            return
        self.heading("Appendix: policy parameters", 0)
        version = params.get("version")
        self.p((f"Version {clean(version)}, in force from {W.human_date(params.get('effective_from'))}."
                if version else "No version published: the portal's defaults.")
               + " Each value is an organisation setting the catalog leaves open ({braces} in the catalog).", "note")
        self.table(["Parameter", "Value"],
                   [[clean(k).replace("_", " "), _value(v)] for k, v in values.items()],
                   weights=[3, 4], where="report.parameters.values")


def _value(v: object) -> str:
    if isinstance(v, dict):
        return ", ".join(f"tier {clean(k)}: {clean(x)}" if str(k).isdigit() else f"{clean(k)}: {clean(x)}"
                         for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(clean(x) for x in v)
    return clean(v)
