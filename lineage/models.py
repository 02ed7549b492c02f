"""The lineage graph: one node table, one edge table, tags, and the raw events it is built from.

All kinds share one node table so that upstream/downstream walks are a single recursive query over
one edge table, whatever kinds they cross. Kind-specific values live in ``attrs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import models

from portal.accounts.selectors import namespace_visibility_q

if TYPE_CHECKING:
    from portal.accounts.models import User


class NodeKind(models.TextChoices):
    DATASET = "dataset", "Dataset"
    DATASET_VERSION = "datasetVersion", "Dataset version"
    JOB = "job", "Job"
    RUN = "run", "Run"
    COMMIT = "commit", "Code commit"
    MODEL_VERSION = "modelVersion", "Model version"
    DEPLOYMENT = "deployment", "Deployment"


class EdgeKind(models.TextChoices):
    """Edges point the way data and code flow: upstream is against the arrow."""

    READS = "reads", "dataset version is read by run"
    WRITES = "writes", "run writes dataset version"
    EXECUTES = "executes", "job is executed by run"
    BUILT_FROM = "built_from", "commit builds job or run"
    PARENT_OF = "parent_of", "parent run of child run"
    PRODUCES = "produces", "run produces model version"
    DEPLOYS = "deploys", "model version is deployed by deployment"
    MONITORS = "monitors", "deployment is watched by monitoring run"


class Tag(models.TextChoices):
    PII = "PII", "Personal data"
    PHI = "PHI", "Protected health information"
    SPECIAL_CAT = "SPECIAL_CAT", "GDPR special category"
    PCI = "PCI", "Payment card data"
    FINANCIAL = "FINANCIAL", "Financial records"
    DEIDENTIFIED = "DEIDENTIFIED", "De-identified"


SENSITIVE_TAGS = frozenset({Tag.PII, Tag.PHI, Tag.SPECIAL_CAT, Tag.PCI, Tag.FINANCIAL})


class NodeQuerySet(models.QuerySet["Node"]):
    def visible_to(self, user: User | AnonymousUser) -> NodeQuerySet:
        return self.filter(namespace_visibility_q(user))


class Node(models.Model):
    """A dataset, dataset version, job, run, commit, model version or deployment.

    ``node_id`` is the stable id string: ``kind:namespace:name`` (runs ``run:<uuid>``; versions append
    ``#<version>``; deployments ``deployment:<ns>:<model>#<version>@<environment>``). ``parent`` folds a
    dataset version into its dataset and a run into its job.
    """

    node_id = models.CharField(max_length=2000, unique=True)
    kind = models.CharField(max_length=20, choices=NodeKind.choices)
    namespace = models.CharField(max_length=1000)
    name = models.CharField(max_length=1000)
    version = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=100, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="members")
    state = models.CharField(max_length=20, blank=True, help_text="Run state or deployment status.")
    owners = models.JSONField(default=list, blank=True)
    facets = models.JSONField(default=dict, blank=True)
    attrs = models.JSONField(default=dict, blank=True)
    deidentifies = models.BooleanField(default=False, help_text="A run that de-identifies its inputs.")
    event_time = models.DateTimeField(null=True, blank=True, help_text="Newest event time seen for the node.")
    times = models.JSONField(default=dict, blank=True,
                             help_text="Event time of each facet, attribute, the owners and the state (plan.py).")
    event_from = models.DateTimeField(null=True, blank=True,
                                      help_text="Earliest event time that names the node (asof.py).")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = NodeQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["kind", "namespace", "name"], name="node_kind_ns_name"),
            models.Index(fields=["kind", "environment", "state"], name="node_kind_env_state"),
            # Walks read a node's kind, de-identification flag and parent for every node they reach: from the
            # index alone, not the wide row (the explorer's sensitive-tag closure: 11 -> 2 us per node).
            models.Index(fields=["id"], include=["kind", "deidentifies", "parent_id"], name="node_walk"),
            models.Index(fields=["kind"], condition=models.Q(event_from__isnull=True), name="node_untimed"),
        ]

    def __str__(self) -> str:
        return self.node_id


class Edge(models.Model):
    """A directed edge ``src -> dst`` in the direction data and code flow."""

    src = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="out_edges")
    dst = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="in_edges")
    kind = models.CharField(max_length=20, choices=EdgeKind.choices)
    created_at = models.DateTimeField(help_text="When the portal was told: the receipt time of the batch.")
    event_from = models.DateTimeField(null=True, blank=True,
                                      help_text="Earliest event time that asserts the edge (asof.py).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["src", "dst", "kind"], name="edge_unique_src_dst_kind")]
        # Every edge gets its ``event_from`` at insert (no untimed ones to find): no ``edge_untimed`` index.
        indexes = [models.Index(fields=["dst", "src"], name="edge_dst_src")]

    def __str__(self) -> str:
        return f"{self.src_id} -{self.kind}-> {self.dst_id}"


class DatasetWrite(models.Model):
    """A finished write: ``run`` wrote ``version`` of ``dataset`` and completed at ``completed_at``.

    What readers read is decided from these rows (``versions.py``), whatever order the events arrived in."""

    dataset = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    version = models.CharField(max_length=200)
    run = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    completed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "version"], name="datasetwrite_unique")]
        indexes = [models.Index(fields=["dataset", "completed_at"], name="datasetwrite_dataset_time")]

    def __str__(self) -> str:
        return f"{self.dataset_id}#{self.version} @ {self.completed_at}"


class DatasetRead(models.Model):
    """``run`` read ``dataset``: when it started (``at``), the version it named (if any), the version linked."""

    run = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    version = models.CharField(max_length=200, blank=True)
    linked = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "dataset"], name="datasetread_unique")]
        indexes = [models.Index(fields=["dataset", "at"], name="datasetread_dataset_time")]

    def __str__(self) -> str:
        return f"{self.run_id} read {self.dataset_id}#{self.linked}"


class NodeTag(models.Model):
    """A classification tag on a dataset (``field`` empty) or one of its columns."""

    class Source(models.TextChoices):
        FACET = "facet", "From an OpenLineage facet"
        API = "api", "Set through the API"
        INFERRED = "inferred", "Inferred by the portal"

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="tags")
    field = models.CharField(max_length=500, blank=True, default="")
    tag = models.CharField(max_length=20, choices=Tag.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    created_at = models.DateTimeField()
    event_from = models.DateTimeField(null=True, blank=True,
                                      help_text="Earliest event time a facet carried it (none: set by hand).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node", "field", "tag"], name="nodetag_unique")]

    def __str__(self) -> str:
        return f"{self.node_id}:{self.field}:{self.tag}"


class RawEvent(models.Model):
    """An OpenLineage event exactly as received, kept so the graph can be rebuilt from it.

    ``body`` holds the bytes exactly as received (``body_sha256`` is of them); ``payload`` is a queryable JSON
    copy. PostgreSQL's jsonb cannot hold U+0000, so in ``payload`` (and in node facets) every U+0000 is
    replaced by U+FFFD on every database; ``body`` keeps it. Rows stored before ``body`` existed have it null.
    """

    dedupe_key = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=20)
    event_type = models.CharField(max_length=10, blank=True)
    event_time = models.DateTimeField()
    run_id = models.CharField(max_length=36, blank=True, db_index=True)
    job_namespace = models.CharField(max_length=1000, blank=True)
    job_name = models.CharField(max_length=1000, blank=True)
    producer = models.CharField(max_length=2000, blank=True)
    payload = models.JSONField()
    body = models.BinaryField(null=True, blank=True, editable=False)
    body_sha256 = models.CharField(max_length=64)
    warnings = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ignored_inputs = models.JSONField(
        default=list, blank=True,
        help_text="Indexes of inputs in namespaces the sender may not write: their facets were not applied.")
    applied_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the event was applied to the graph; null while it waits (lineage.apply_pending).")
    apply_error = models.TextField(blank=True, default="", db_default="",
                                   help_text="Why applying the event alone failed; it waits until retried.")

    class Meta:
        indexes = [models.Index(fields=["event_time", "id"], name="rawevent_time"),
                   # The events waiting to be applied: a small index however long the log grows.
                   models.Index(fields=["id"], condition=models.Q(applied_at__isnull=True), name="rawevent_pending"),
                   models.Index(fields=["job_namespace", "job_name"], condition=models.Q(applied_at__isnull=True),
                                name="rawevent_pending_job")]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_type} {self.run_id or self.job_name} @ {self.event_time}"


class RunClaim(models.Model):
    """A run id bound to the job of the first event that named it (``guard.py``), written when the event is
    accepted, before it is applied: a waiting event's run is already taken."""

    run = models.CharField(max_length=2000, unique=True, help_text="The run's node id.")
    job = models.CharField(max_length=2000, help_text="The job's node id.")
    job_namespace = models.CharField(max_length=1000)

    def __str__(self) -> str:
        return f"{self.run} -> {self.job}"


class ModelClaim(models.Model):
    """A model version bound to the namespace whose run (or REST registration) first produced it."""

    model_version = models.CharField(max_length=2000, unique=True, help_text="The model version's node id.")
    namespace = models.CharField(max_length=1000)

    def __str__(self) -> str:
        return f"{self.model_version} produced in {self.namespace}"


class ColumnEdge(models.Model):
    """A column of one dataset version derived from a column of another, from the ``columnLineage`` facet.

    ``dst`` is the dataset version a run wrote; ``src`` the version of the input it read (``lineage/columns.py``
    says how the facet is read). ``dst_field`` "" stands for the whole output dataset (the facet's dataset-wide
    list: filters, join keys). One row per transformation, so a column fed both DIRECT and INDIRECT has two.
    """

    src = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="column_out")
    src_field = models.CharField(max_length=500)
    dst = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="column_in")
    dst_field = models.CharField(max_length=500, blank=True)
    type = models.CharField(max_length=10)
    subtype = models.CharField(max_length=20, blank=True)
    description = models.TextField(blank=True)
    masking = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["src", "src_field", "dst", "dst_field", "type", "subtype"],
                                               name="columnedge_unique")]
        indexes = [models.Index(fields=["dst", "dst_field"], name="columnedge_dst")]

    def __str__(self) -> str:
        return f"{self.src_id}.{self.src_field} -{self.type}/{self.subtype}-> {self.dst_id}.{self.dst_field}"


class EdgeRetired(models.Model):
    """An edge the graph held and then dropped (a read re-linked when a write that completed earlier arrived late,
    or a START moved a read back): kept with the times it held, so lineage as of a receipt time can show it
    (``asof.py``). ``src_id``/``dst_id`` are node pks without a constraint: a dropped ``initial`` version lives on
    in ``NodeRetired``. ``dataset_id`` is the dataset a retired read was of."""

    src_id = models.BigIntegerField()
    dst_id = models.BigIntegerField()
    kind = models.CharField(max_length=20, choices=EdgeKind.choices)
    dataset_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    event_from = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["dst_id", "src_id"], name="edgeretired_dst_src"),
                   models.Index(fields=["src_id", "dst_id"], name="edgeretired_src_dst")]

    def __str__(self) -> str:
        return f"{self.src_id} -{self.kind}-> {self.dst_id} until {self.retired_at}"


class NodeRetiredQuerySet(models.QuerySet["NodeRetired"]):
    def visible_to(self, user: User | AnonymousUser) -> NodeRetiredQuerySet:
        """As ``Node.objects.visible_to``: the same rule on the namespace it had."""
        return self.filter(namespace_visibility_q(user))


class NodeRetired(models.Model):
    """A node the graph dropped (an ``initial`` version no read links any more), as it was when dropped, with
    when it was created and dropped: lineage as of a receipt time before the drop still shows it. ``id`` is the
    pk it had."""

    id = models.BigIntegerField(primary_key=True)
    node_id = models.CharField(max_length=2000)
    kind = models.CharField(max_length=20, choices=NodeKind.choices)
    namespace = models.CharField(max_length=1000)
    name = models.CharField(max_length=1000)
    version = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=100, blank=True)
    parent_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=20, blank=True)
    owners = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    event_from = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField()

    objects = NodeRetiredQuerySet.as_manager()

    class Meta:
        # by node id: redaction asks of every answer which ids name a dropped node, and an as-of read finds a
        # dropped root or expansion by its id (asof.nodes_get)
        indexes = [models.Index(fields=["parent_id"], name="noderetired_parent"),
                   models.Index(fields=["node_id"], name="noderetired_node_id")]

    def __str__(self) -> str:
        return f"{self.node_id} until {self.retired_at}"


class NodeStateChange(models.Model):
    """A node's state (run state, deployment status) through time, for lineage as of a time (``asof.py``).

    ``basis`` ``received``: the graph held ``state`` from ``at`` (a receipt time) until the next such row.
    ``basis`` ``event``: an event said ``state`` at event time ``at``; as of an event time the latest said wins
    (ties: the greater state, as ``plan.merge_node`` decides)."""

    class Basis(models.TextChoices):
        RECEIVED = "received", "Held from this receipt time"
        EVENT = "event", "Said at this event time"

    # no index of its own: the unique constraint's index leads with the node
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+", db_index=False)
    basis = models.CharField(max_length=10, choices=Basis.choices)
    state = models.CharField(max_length=20, blank=True)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node", "basis", "at", "state"], name="nodestate_unique")]

    def __str__(self) -> str:
        return f"{self.node_id}: {self.state} @ {self.at} ({self.basis})"
