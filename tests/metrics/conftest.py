"""Shared fixtures: a monitored production deployment and the compliance officer."""

from tests.monitoring.conftest import deployment, ingest_client  # noqa: F401 - the credit team's monitor
from tests.reports.conftest import officer  # noqa: F401
