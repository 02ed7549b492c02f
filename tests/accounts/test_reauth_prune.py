"""Re-authentications at the identity provider are kept only while a signature may still take them
(``portal.accounts.reauth.reauth_prune``, run hourly by beat)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from portal.accounts import oidc
from portal.accounts.models import Reauthentication
from portal.accounts.reauth import _take, reauth_prune, reauth_record
from portal.accounts.services import user_ensure


@pytest.mark.django_db
def test_used_and_expired_reauthentications_are_forgotten_and_a_fresh_one_still_signs() -> None:
    user = user_ensure(username="sara", role="approver", team="credit-risk")
    evidence = {"iss": "https://idp.example", "sub": "sara"}
    expired = reauth_record(user=user, evidence=evidence)
    used = reauth_record(user=user, evidence=evidence)
    fresh = reauth_record(user=user, evidence=evidence)
    long_ago = timezone.now() - timedelta(seconds=oidc.REAUTH_MAX_AGE + oidc.LEEWAY_SECONDS + 1)
    Reauthentication.objects.filter(pk=expired.pk).update(created_at=long_ago)
    assert _take(user, used.token) == evidence

    assert reauth_prune() == 2
    assert list(Reauthentication.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert _take(user, fresh.token) == evidence
    assert reauth_prune() == 1  # taken now: no signature may take it again


def test_beat_runs_the_prune_hourly() -> None:
    from portal.accounts.tasks import reauth_prune_task

    entry = settings.CELERY_BEAT_SCHEDULE["accounts-prune-reauthentications"]
    assert entry["task"] == reauth_prune_task.name == "accounts.prune_reauthentications"
    assert entry["schedule"] <= 3600
