"""The audit trail: an append-only, hash-chained log and signed Merkle checkpoints over it."""

from __future__ import annotations

from django.db import models


class AuditEntry(models.Model):
    """One change of state. The database refuses UPDATE, DELETE and TRUNCATE on this table (migration 0002).

    ``payload`` is stored as its canonical JSON text, so what is hashed is exactly what is kept.
    """

    seq = models.BigIntegerField(unique=True)
    time = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=300, blank=True)
    actor_token = models.CharField(max_length=20, blank=True, help_text="Prefix of the API token used, if any.")
    action = models.CharField(max_length=100, db_index=True)
    target_kind = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=2000, blank=True)
    payload = models.TextField(default="{}")
    request_id = models.CharField(max_length=64, blank=True)
    client = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["target_kind", "target_id"], name="audit_target"),
            models.Index(fields=["actor_id", "seq"], name="audit_actor"),
            models.Index(fields=["time"], name="audit_time"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target_kind}:{self.target_id}"


class AuditPending(models.Model):
    """An entry written by a change's own transaction, waiting for the sequencer to give it its place.

    Writers only INSERT here (no chain lock); the sequencer deletes the rows it integrates into ``AuditEntry``
    and covers them with a signed checkpoint in the same transaction. The database refuses UPDATE (migration
    0004). ``payload`` is canonical JSON text, as in ``AuditEntry``.
    """

    time = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=300, blank=True)
    actor_token = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=100)
    target_kind = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=2000, blank=True)
    payload = models.TextField(default="{}")
    request_id = models.CharField(max_length=64, blank=True)
    client = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "pending audit entries"

    def __str__(self) -> str:
        return f"pending {self.action} {self.target_kind}:{self.target_id}"


class AuditCheckpoint(models.Model):
    """A signed statement of the tree size and Merkle root at a time. Append-only too."""

    tree_size = models.BigIntegerField()
    root = models.CharField(max_length=64)
    time = models.DateTimeField()
    time_text = models.CharField(max_length=32, help_text="The exact signed time string.")
    signature = models.CharField(max_length=200)
    key_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["tree_size", "id"]
        # The sequencer reads the newest checkpoint on every poll (two a second): without this, a scan of them all.
        indexes = [models.Index(fields=["tree_size", "id"], name="audit_checkpoint_size")]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} {self.root[:12]}"

    def as_dict(self) -> dict[str, object]:
        return {"tree_size": self.tree_size, "root": self.root, "time": self.time_text,
                "signature": self.signature, "key_id": self.key_id}


class AuditBlock(models.Model):
    """Cache of the Merkle root of each complete block of leaves, so proofs stay fast at millions of entries.

    Derived data: never trusted by verification, and a wrong value only makes a proof fail to verify.
    """

    index = models.BigIntegerField(unique=True)
    root = models.BinaryField(max_length=32)

    def __str__(self) -> str:
        return f"block {self.index}"


class AuditVerification(models.Model):
    """The outcome of a full verification run, for the chain status shown on every audit page."""

    ok = models.BooleanField()
    entries = models.BigIntegerField()
    head = models.CharField(max_length=64, blank=True)
    message = models.TextField()
    first_bad_seq = models.BigIntegerField(null=True, blank=True)
    time = models.DateTimeField()

    class Meta:
        ordering = ["-time"]

    def __str__(self) -> str:
        return self.message[:80]
