from __future__ import annotations

from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_log, name="log"),
    path("entries/<int:seq>", views.audit_entry, name="entry"),
    path("verify", views.audit_verify_now, name="verify"),
    path("export", views.audit_export_download, name="export"),
]
