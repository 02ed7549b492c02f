"""OpenLineage event JSON -> plain dataclasses. No ORM, no Django.

Validation is a typed decode (msgspec), which keeps the ingest hot path fast. Real producers bend
the spec; this parser accepts an event whose meaning is clear and records what was wrong in
``warnings``, and refuses it (``EventError``) when it is not.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from portal.audit.context import RequestContext

EVENT_TYPES = frozenset({"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"})

# Limits on names, in UTF-8 bytes, so every node id fits its column (2000) and every index entry stays under
# PostgreSQL's b-tree limit (2704 bytes) whatever the script. A namespace is capped at 500 because that is
# what a team can own (NamespaceOwner.namespace).
MAX_NAMESPACE_BYTES = 500
MAX_NAME_BYTES = 1000
MAX_VERSION_BYTES = 200
# Deeper nesting than any real facet; far deeper would exhaust the recursion of every JSON library on the way.
MAX_NESTING = 100


class EventError(Exception):
    """The event cannot be understood. ``field`` is the dotted path of the offending field."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class _Job(msgspec.Struct):
    namespace: str
    name: str
    facets: dict[str, Any] = {}


class _Run(msgspec.Struct):
    runId: str
    facets: dict[str, Any] = {}


class _Dataset(msgspec.Struct):
    namespace: str
    name: str
    facets: dict[str, Any] = {}
    inputFacets: dict[str, Any] = {}
    outputFacets: dict[str, Any] = {}


class _Event(msgspec.Struct):
    eventTime: str
    producer: str | None = None
    schemaURL: str | None = None
    eventType: str | None = None
    run: _Run | None = None
    job: _Job | None = None
    dataset: _Dataset | None = None
    inputs: list[_Dataset] = []
    outputs: list[_Dataset] = []


_decoder = msgspec.json.Decoder(_Event)
_batch_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_AT = re.compile(r"^(?P<msg>.*?) - at `\$(?P<path>[^`]*)`$")
_FRACTION = re.compile(r"(\.\d{6})\d+")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True, slots=True)
class DatasetRef:
    namespace: str
    name: str
    facets: dict[str, Any]
    input_facets: dict[str, Any]
    output_facets: dict[str, Any]


@dataclass(slots=True)
class ParsedEvent:
    """One event, understood. ``raw`` is the body exactly as received; ``sha256`` is of those bytes."""

    kind: str  # "run" | "dataset" | "job"
    event_type: str | None
    event_time: datetime
    producer: str
    schema_url: str
    run_id: str | None
    run_facets: dict[str, Any]
    job_namespace: str | None
    job_name: str | None
    job_facets: dict[str, Any]
    dataset: DatasetRef | None
    inputs: list[DatasetRef]
    outputs: list[DatasetRef]
    raw: bytes
    sha256: str
    warnings: list[str] = field(default_factory=list)
    received_at: datetime | None = None  # set by the portal when it takes the event, never from the body
    # The request that brought it (request id, client, token), for its audit row when it is applied together
    # with other requests' events (lineage/intake.py); None: the request running the ingestion.
    context: RequestContext | None = None
    _key: str = field(default="", repr=False, compare=False)  # dedupe_key, once asked (a batch asks six times)

    @property
    def dedupe_key(self) -> str:
        """Two events with the same key are the same event (same run, type, time and job) and stored once."""
        if not self._key:
            self._key = self._dedupe_key()
        return self._key

    def _dedupe_key(self) -> str:
        if self.kind == "dataset":
            assert self.dataset is not None
            ident = f"dataset|{self.dataset.namespace}|{self.dataset.name}"
        else:
            ident = f"{self.kind}|{self.run_id or ''}|{self.event_type or ''}|{self.job_namespace}|{self.job_name}"
        stamp = self.event_time.astimezone(UTC).isoformat()
        return hashlib.sha256(f"{ident}|{stamp}".encode()).hexdigest()


def _path(loc: str) -> str | None:
    loc = loc.lstrip(".")
    return loc or None


def _decode_error(exc: msgspec.ValidationError | msgspec.DecodeError, prefix: str = "") -> EventError:
    text = str(exc)
    m = _AT.match(text)
    if m:
        msg, loc = m.group("msg"), m.group("path")
    else:
        msg, loc = text, ""
    missing = re.match(r"Object missing required field `([^`]+)`", msg)
    if missing:
        loc = f"{loc}.{missing.group(1)}"
        msg = "this field is required"
    if not isinstance(exc, msgspec.ValidationError) and not m:  # ValidationError subclasses DecodeError
        return EventError(prefix.rstrip(".") or None, f"malformed JSON: {text}")
    path = _path(loc)
    if prefix:
        path = prefix + (path or "") if path and path.startswith("[") else f"{prefix.rstrip('.')}" + (
            f".{path}" if path else ""
        )
    return EventError(path, msg)


def parse_time(value: str, warnings: list[str], field_name: str = "eventTime") -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _FRACTION.sub(r"\1", text)  # nanosecond producers: keep microseconds
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise EventError(field_name, f"not an ISO 8601 date-time: {value[:100]!r}") from exc
    if parsed.tzinfo is None:
        warnings.append(f"{field_name} has no timezone; read as UTC")
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+01:00 is before the first representable instant
        raise EventError(field_name, f"out of range: {value[:100]!r}") from exc
    return parsed


def name_problem(value: str, limit: int) -> str | None:
    """Why ``value`` cannot be a name stored in the graph, or None. Shared with facet readers."""
    if "\x00" in value:
        return "must not contain NUL (U+0000)"
    if len(value) * 4 <= limit:  # no UTF-8 character is longer than 4 bytes: most names stop here
        return None
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > limit:
        return f"is {size} bytes long; the limit is {limit} bytes (UTF-8)"
    return None


def _check_name(path: str, value: str, limit: int) -> None:
    if not value.strip():
        raise EventError(path, "must not be empty")
    problem = name_problem(value, limit)
    if problem:
        raise EventError(path, problem)


def _lone_surrogate(raw: bytes) -> bool:
    """Whether a string or key anywhere (even one the parser ignores) is a lone surrogate, which no database
    column can store. Only called when the body has a surrogate escape at all (escaped emoji do)."""
    try:
        json.dumps(json.loads(raw), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        return False  # the decoder has already judged the body
    return False


def _too_deep(raw: bytes, value: Any) -> bool:
    # Counting brackets is cheap and bounds the depth from above: most events are never walked.
    if raw.count(b"{") + raw.count(b"[") <= MAX_NESTING:
        return False
    stack = [(value, 2)]  # the facets objects sit two levels below the event itself
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((v, depth + 1) for v in children if isinstance(v, dict | list))
    return False


def _dataset(d: _Dataset) -> DatasetRef:
    return DatasetRef(d.namespace, d.name, d.facets, d.inputFacets, d.outputFacets)


def _check_facets(where: str, facets: dict[str, Any], warnings: list[str]) -> None:
    for name, facet in facets.items():
        if not isinstance(facet, dict):
            warnings.append(f"{where}.{name} is not an object; kept as given")
        elif "_producer" not in facet or "_schemaURL" not in facet:
            warnings.append(f"{where}.{name} lacks _producer or _schemaURL")


def parse_event(raw: bytes) -> ParsedEvent:
    """Parse one OpenLineage event (RunEvent, DatasetEvent or JobEvent) from its JSON bytes."""
    ev = _decode(raw)
    warnings: list[str] = []
    event_time = parse_time(ev.eventTime, warnings)
    _check_header(ev, warnings)
    kind, run_id = _kind_of(ev)
    _check_names_and_facets(ev, kind, warnings)
    return ParsedEvent(
        kind=kind,
        event_type=ev.eventType if kind == "run" else None,
        event_time=event_time,
        producer=(ev.producer or "").replace("\x00", "\ufffd"),
        schema_url=ev.schemaURL or "",
        run_id=run_id,
        run_facets=ev.run.facets if ev.run else {},
        job_namespace=ev.job.namespace if ev.job else None,
        job_name=ev.job.name if ev.job else None,
        job_facets=ev.job.facets if ev.job else {},
        dataset=_dataset(ev.dataset) if ev.dataset else None,
        inputs=[_dataset(d) for d in ev.inputs],
        outputs=[_dataset(d) for d in ev.outputs],
        raw=bytes(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        warnings=warnings,
    )


def _decode(raw: bytes) -> _Event:
    """The event's JSON decoded: valid UTF-8, the expected shape, no lone surrogates, not nested too deep."""
    try:
        # msgspec skips keys it does not know without decoding them: check the whole body here.
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventError(None, f"the body is not valid UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        ev = _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _decode_error(exc) from exc
    except RecursionError as exc:
        raise EventError(None, f"the JSON is nested more than {MAX_NESTING} levels deep") from exc
    if (b"\\ud" in raw or b"\\uD" in raw) and _SURROGATE_ESCAPE.search(raw) and _lone_surrogate(raw):
        raise EventError(None, "the JSON holds a lone UTF-16 surrogate escape (\\ud800-\\udfff): not a character")
    facet_sets = [ev.run.facets if ev.run else {}, ev.job.facets if ev.job else {}]
    for d in [*ev.inputs, *ev.outputs, *([ev.dataset] if ev.dataset else [])]:
        facet_sets += [d.facets, d.inputFacets, d.outputFacets]
    if _too_deep(raw, facet_sets):
        raise EventError(None, f"the JSON is nested more than {MAX_NESTING} levels deep")
    return ev


def _check_header(ev: _Event, warnings: list[str]) -> None:
    if not ev.producer:
        warnings.append("producer is missing")
    if not ev.schemaURL:
        warnings.append("schemaURL is missing")
    if ev.eventType is not None and ev.eventType not in EVENT_TYPES:
        raise EventError("eventType", f"unknown event type {ev.eventType!r}; expected one of "
                         + ", ".join(sorted(EVENT_TYPES)))


def _kind_of(ev: _Event) -> tuple[str, str | None]:
    """run, job or dataset event, and the run's id (a canonical UUID) for a run event."""
    if ev.run is not None:
        if ev.job is None:
            raise EventError("job", "this field is required for a RunEvent")
        try:
            return "run", str(uuid.UUID(ev.run.runId))
        except ValueError as exc:
            raise EventError("run.runId", f"not a UUID: {ev.run.runId!r}") from exc
    if ev.job is not None:
        return "job", None
    if ev.dataset is not None:
        return "dataset", None
    raise EventError("run", "the event has neither run, job nor dataset")


def _check_names_and_facets(ev: _Event, kind: str, warnings: list[str]) -> None:
    if ev.job is not None:
        _check_name("job.name", ev.job.name, MAX_NAME_BYTES)
        _check_name("job.namespace", ev.job.namespace, MAX_NAMESPACE_BYTES)
    if ev.dataset is not None and kind == "dataset":
        _check_name("dataset.name", ev.dataset.name, MAX_NAME_BYTES)
        _check_name("dataset.namespace", ev.dataset.namespace, MAX_NAMESPACE_BYTES)
    datasets = [("inputs", d) for d in ev.inputs] + [("outputs", d) for d in ev.outputs]
    for i, (where, d) in enumerate(datasets):
        idx = i if where == "inputs" else i - len(ev.inputs)
        if not d.name.strip() or not d.namespace.strip():
            raise EventError(f"{where}[{idx}].name", "dataset namespace and name must not be empty")
        _check_name(f"{where}[{idx}].name", d.name, MAX_NAME_BYTES)
        _check_name(f"{where}[{idx}].namespace", d.namespace, MAX_NAMESPACE_BYTES)
        _check_facets(f"{where}[{idx}].facets", d.facets, warnings)
    if ev.run is not None:
        _check_facets("run.facets", ev.run.facets, warnings)
    if ev.job is not None:
        _check_facets("job.facets", ev.job.facets, warnings)


def time_problem(value: datetime, *, now: datetime, max_future: timedelta) -> str | None:
    """Why ``value`` cannot be an event's time, or None: a time past the clock skew has not happened yet."""
    ahead = value - now
    if ahead > max_future:
        return (f"is {_span(ahead)} in the future; the portal accepts at most {_span(max_future)} of clock skew "
                f"(it is now {now.astimezone(UTC).isoformat(timespec='seconds')})")
    return None


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


def check_event_time(ev: ParsedEvent, *, now: datetime, max_future: timedelta,
                     horizon: timedelta | None = None) -> None:
    """Refuse (``EventError`` on ``eventTime``) an event from the future beyond ``max_future``; flag one older
    than ``horizon`` in its warnings. State must never be pinned by a clock that is wrong."""
    problem = time_problem(ev.event_time, now=now, max_future=max_future)
    if problem:
        raise EventError("eventTime", problem)
    if horizon is not None and ev.event_time < now - horizon:
        ev.warnings.append(f"eventTime is older than the portal's horizon of {_span(horizon)}; accepted as sent")


def split_batch(body: bytes) -> list[bytes]:
    """A batch body is a JSON array of events or NDJSON (one event per line). Each item keeps its bytes."""
    stripped = body.lstrip()
    if stripped.startswith(b"["):
        try:
            return [bytes(item) for item in _batch_decoder.decode(stripped)]
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise EventError(None, f"malformed JSON array: {exc}") from exc
        except RecursionError as exc:
            raise EventError(None, f"the JSON is nested more than {MAX_NESTING} levels deep") from exc
    return [line.strip() for line in body.splitlines() if line.strip()]
