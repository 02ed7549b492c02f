"""Importers: read an MLOps system's own records and turn them into what the ingest path already takes.

Each ``<system>.py`` maps its source records to OpenLineage RunEvents (with portal facets) and portal
records, purely, from plain dataclasses; reading the source needs that system's package (an optional
extra: ``pip install .[mlflow]``). ``services.py`` feeds the result through ``events_ingest`` and
``portal_record_ingest``, so an import is idempotent, kept in the raw log for ``rebuild_lineage`` and
audited like any other ingest.
"""
