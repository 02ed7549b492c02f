"""The audit evidence appendix: the chain's state and the proofs of the entries the report cites."""

from __future__ import annotations

from ..pdf_text import MISSING, clean
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
                 ("Entries", chain.get("entries")), ("Head", chain.get("head")),
                 ("Verified at", chain.get("verified_at"))], mono=("Head",))
        for problem in _list(chain.get("problems"))[:LIST_CAP]:
            self.p(f"Problem: {clean(problem)}", "warn")
        self.heading("Checkpoint", 1)
        cp = _dict(audit.get("checkpoint"))
        self.p("The signed checkpoint of the audit log this report was made against.", "note")
        self.kv([("Tree size", cp.get("size")), ("Root", cp.get("root")), ("Key id", cp.get("key_id")),
                 ("Signature", cp.get("signature")), ("Created at", cp.get("created_at"))]
                + ([("Signed time", cp.get("signed_time"))] if "signed_time" in cp else []),
                mono=("Root", "Key id", "Signature"))
        self.heading("Inclusion proofs", 1)
        proofs = [x for x in _list(audit.get("proofs")) if isinstance(x, dict)]
        if not proofs:
            self.p("No inclusion proofs in this report.", "note")
        else:
            self.p("Each proof shows that an approval's audit entry is in the checkpointed tree: hash the leaf "
                   "with the path hashes in order to obtain the checkpoint root.", "note")
        for i, x in enumerate(proofs):
            if i % 50 == 0:
                self.mark("inclusion proofs")
            path = _list(x.get("path"))
            self.kv([("Proof", x.get("label")), ("Sequence", x.get("seq")), ("Tree size", x.get("tree_size")),
                     ("Leaf hash", x.get("leaf_hash")),
                     ("Path", "\n".join(f"{j}: {clean(h)}" for j, h in enumerate(path)) or MISSING)],
                    mono=("Leaf hash", "Path"))
