from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from portal.lib import schema  # noqa: F401 - registers the bearer-token OpenAPI scheme

        from .models import User
        from .tokencache import user_saved

        post_save.connect(user_saved, sender=User, dispatch_uid="accounts.tokencache.user_saved")
