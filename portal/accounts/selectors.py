"""Reads about users: who may see what, and who a name or an email address is."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.db.models.functions import Lower

from .models import NamespaceOwner, User, UserEmail


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


def users_by_name(names: Iterable[str]) -> dict[str, User]:
    """Portal users by username or email (any of their addresses), keyed by the lower-cased name given."""
    wanted = {n.strip().lower() for n in names if n and n.strip()}
    if not wanted:
        return {}
    out: dict[str, User] = {}
    users = User.objects.annotate(lname=Lower("username"), lemail=Lower("email"))
    for u in users.filter(Q(lname__in=wanted) | Q(lemail__in=wanted)):
        for key in (u.username.lower(), u.email.lower()):
            if key in wanted:
                out[key] = u
    extra = UserEmail.objects.annotate(lemail=Lower("email")).filter(lemail__in=wanted - set(out))
    for e in extra.select_related("user"):
        out[e.email.lower()] = e.user
    return out


def user_emails(user: User) -> set[str]:
    emails = {user.email.lower()} if user.email else set()
    emails |= {e.email.lower() for e in user.extra_emails.all()}  # .all(): uses a prefetch when there is one
    return emails
