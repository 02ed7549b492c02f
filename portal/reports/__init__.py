"""Compliance reports: control evaluation, the evidence bundle and its PDF rendering."""
