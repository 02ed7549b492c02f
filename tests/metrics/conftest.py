"""Shared fixtures: a monitored production deployment and the compliance officer."""

from tests.monitoring.conftest import deployment  # noqa: F401
from tests.reports.conftest import officer  # noqa: F401
