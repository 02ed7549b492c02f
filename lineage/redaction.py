"""An answer carries nothing its reader may not see: other teams' node ids inside otherwise-permitted answers.

A run of the credit team may read a clinical dataset; the credit team may see the run, its job and its outputs,
but the clinical dataset only as "a dataset of another team". The sensitive tags that reach them through it stay
shown (``sensitiveUpstream: {"PHI": ["a dataset of another team"]}``): knowing that PHI reaches a model is what
its reviewers need, and the tag names no one. Lists keep one such entry per kind, whatever the number of hidden
nodes, so no count leaks either.

``Redactor.redact`` walks any JSON-like answer, finds every string that is a node id (``kind:…`` for a known
kind), asks the database once which of them the reader may see, and replaces the others. The API applies it to
every answer (``RedactingJSONRenderer``), so no endpoint can forget it; pages call it on what they show.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer

from .models import Node, NodeKind, NodeRetired
from .selectors import hidden_namespaces

_ID = re.compile("^(" + "|".join(re.escape(k) for k in NodeKind.values) + "):.")


def redacted_label(kind: str) -> str:
    """What a reader sees instead of a node of another team: "a dataset of another team"."""
    word = "dataset" if kind in (NodeKind.DATASET, NodeKind.DATASET_VERSION) else NodeKind(kind).label.lower()
    article = "an" if word[0] in "aeiou" else "a"
    return f"{article} {word} of another team"


REDACTED_LABELS = frozenset(redacted_label(k) for k in NodeKind.values)


# Where (namespace, name) pairs name datasets: the elements of a job's ``inputs``/``outputs`` attributes
# (``[namespace, name]``) and of Marquez's (``{"namespace": …, "name": …}``), and the ``id`` of a Marquez dataset.
# Anywhere else (a facet's ``["a", "b"]``, an OpenLineage parent facet's job) a pair is just data: it is neither
# looked up nor replaced.
_IO_KEYS = frozenset({"inputs", "outputs"})
_LIST = "[]"  # the context of a list's elements: "<key of the list>[]"


def _dataset_pair(item: Any, context: str | None) -> str | None:
    """The dataset id ``item`` names if it is a pair where pairs name datasets (``context``: the key holding it,
    with ``[]`` appended for a list's elements)."""
    if context is None:
        return None
    in_io = context.endswith(_LIST) and context[:-len(_LIST)] in _IO_KEYS
    if in_io and isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(v, str) for v in item):
        return f"dataset:{item[0]}:{item[1]}"
    if (in_io or context == "id") and isinstance(item, dict) and item.keys() == {"namespace", "name"} and all(
            isinstance(v, str) for v in item.values()):
        return f"dataset:{item['namespace']}:{item['name']}"
    return None


def _value_context(owner: dict[Any, Any], key: Any) -> str | None:
    # a Marquez job's ``id`` is the job's own identity, not a dataset's
    if key == "id" and owner.get("type") == "BATCH":
        return None
    return key if isinstance(key, str) else None


def _element_context(context: str | None) -> str | None:
    return None if context is None or context.endswith(_LIST) else context + _LIST


def _candidates(data: Any, out: set[str]) -> None:
    stack: list[tuple[Any, str | None]] = [(data, None)]
    while stack:
        item, context = stack.pop()
        pair = _dataset_pair(item, context)
        if pair is not None:
            out.add(pair)
        if isinstance(item, str):
            if _ID.match(item):
                out.add(item)
        elif isinstance(item, dict):
            stack.extend((k, None) for k in item)
            stack.extend((v, _value_context(item, k)) for k, v in item.items())
        elif isinstance(item, list | tuple):
            inner = _element_context(context)
            stack.extend((v, inner) for v in item)


class Redactor:
    """For one reader: which node ids they may not see, and the answer with those replaced."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self.authenticated = bool(getattr(user, "is_authenticated", False))
        self.everything = self.authenticated and bool(user.sees_all_namespaces)
        self.hidden: dict[str, str] = {}  # hidden node id -> its label
        self._hidden_ns: frozenset[str] | None = None  # the namespaces of other teams, once asked

    def load(self, node_ids: Iterable[str]) -> None:
        """Learn which of ``node_ids`` name nodes (current, or dropped since: ``asof.py`` still answers them) of
        another team. A node is the reader's to see unless its namespace is one of ``hidden_namespaces``: one
        query for those, then one for the ids (per 2000), and the dropped nodes only for ids no current node has."""
        if self.everything:
            return
        wanted = sorted({n for n in node_ids if n not in self.hidden})
        if not wanted:
            return
        others = self._other_teams()
        if others is not None and not others:
            return  # nothing belongs to a team this reader is not in
        # An id that names no node at all (a typo in a facet) is not another team's: leave it.
        found: dict[str, str] = {}
        for model in (Node, NodeRetired):
            ask = [n for n in wanted if n not in found]
            for i in range(0, len(ask), 2000):
                found.update(model.objects.filter(node_id__in=ask[i:i + 2000]).values_list("node_id", "namespace"))
        for node_id, namespace in found.items():
            if others is None or namespace in others:
                self.hidden[node_id] = redacted_label(node_id.split(":", 1)[0])

    def _other_teams(self) -> frozenset[str] | None:
        """The namespaces of teams the reader is not in (asked once); None for a reader not signed in, from whom
        every node is hidden."""
        if not self.authenticated:
            return None
        if self._hidden_ns is None:
            self._hidden_ns = frozenset(hidden_namespaces(self.user))
        return self._hidden_ns

    def is_hidden(self, node_id: str) -> bool:
        return node_id in self.hidden

    def redact(self, data: Any) -> Any:
        """``data`` with every hidden node id replaced by its label (one per kind in a list, keys included)."""
        if self.everything:
            return data
        found: set[str] = set()
        _candidates(data, found)
        self.load(found)
        if not (found & self.hidden.keys()):
            return data
        return self._walk(data, None)

    def _walk(self, item: Any, context: str | None) -> Any:
        pair = _dataset_pair(item, context)
        if pair is not None and pair in self.hidden:
            return self.hidden[pair]
        if isinstance(item, str):
            return self.hidden.get(item, item)
        if isinstance(item, dict):
            return {self._walk(k, None) if isinstance(k, str) else k: self._walk(v, _value_context(item, k))
                    for k, v in item.items()}
        if isinstance(item, list | tuple):
            out, seen = [], set()
            inner = _element_context(context)
            for v in item:
                w = self._walk(v, inner)
                if isinstance(w, str) and w in REDACTED_LABELS:
                    if w in seen:
                        continue  # one entry per kind: the number of hidden nodes is not told
                    seen.add(w)
                out.append(w)
            return out
        return item


class RawJSON:
    """An answer already written as JSON text (by the database). The renderers redact it like any answer: for a
    reader who may see everything (redaction changes nothing) the text goes out as it is; for anyone else it is
    parsed, redacted and rendered again, so no endpoint can skip redaction by answering text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def parsed(self) -> Any:
        return json.loads(self.text)


def redact_for(user: Any, data: Any) -> Any:
    return Redactor(user).redact(data)


def _redacted(data: Any, renderer_context: Mapping[str, Any] | None) -> Any:
    request = (renderer_context or {}).get("request")
    if isinstance(data, RawJSON):
        data = data.parsed()
    return redact_for(request.user, data) if request is not None and data is not None else data


def _sees_everything(renderer_context: Mapping[str, Any] | None) -> bool:
    request = (renderer_context or {}).get("request")
    return request is not None and Redactor(request.user).everything


class RedactingJSONRenderer(JSONRenderer):
    """The API's JSON renderer: every answer is redacted for its reader (``Redactor``)."""

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> bytes:
        if isinstance(data, RawJSON) and _sees_everything(renderer_context) and not self.get_indent(
                accepted_media_type or "", renderer_context or {}):
            return data.text.encode()
        return super().render(_redacted(data, renderer_context), accepted_media_type, renderer_context)


class RedactingBrowsableAPIRenderer(BrowsableAPIRenderer):
    """The browsable API, redacted the same way."""

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> str:
        return super().render(_redacted(data, renderer_context), accepted_media_type, renderer_context)
