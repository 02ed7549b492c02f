from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo organisation and its ``load_demo`` command; beside the pages, imported by no domain app."""

    name = "portal.demo"
    label = "demo"
    verbose_name = "Demo data"
