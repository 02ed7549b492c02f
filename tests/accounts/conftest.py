"""Accounts fixtures: the approvals organisation (people, a model, a pending release) for the signature tests."""

from __future__ import annotations

from tests.approvals.conftest import model, people, policy, release  # noqa: F401
