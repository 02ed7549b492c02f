"""Reads about who may see what."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q

from .models import NamespaceOwner, User


def namespace_visibility_q(user: User | AnonymousUser, field: str = "namespace") -> Q:
    """A Q object restricting rows with a namespace column to what the user may see.

    Everything is visible to org-wide roles; otherwise a row is visible when no team owns its
    namespace or one of the user's teams does.
    """
    if not user.is_authenticated:
        return Q(pk__in=[])
    if user.sees_all_namespaces:
        return Q()
    owned = NamespaceOwner.objects.values("namespace")
    mine = NamespaceOwner.objects.filter(team__members=user).values("namespace")
    return ~Q(**{f"{field}__in": owned}) | Q(**{f"{field}__in": mine})


def namespace_visible(user: User | AnonymousUser, namespace: str) -> bool:
    if not user.is_authenticated:
        return False
    if user.sees_all_namespaces:
        return True
    owner = NamespaceOwner.objects.filter(namespace=namespace).values_list("team_id", flat=True).first()
    return owner is None or user.teams.filter(pk=owner).exists()
