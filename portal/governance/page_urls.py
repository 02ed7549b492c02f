from __future__ import annotations

from django.urls import path, re_path

from . import views

app_name = "governance"

urlpatterns = [
    path("parameters", views.parameters, name="parameters"),
    re_path(r"^node/(?P<node_id>.+)/subject-keys$", views.subject_keys_add, name="subject-keys"),
    re_path(r"^node/(?P<node_id>.+)$", views.node_governance, name="node"),
]
