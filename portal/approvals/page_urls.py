from __future__ import annotations

from django.urls import path

from . import views

app_name = "approvals"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("releases/<int:pk>", views.release_detail, name="release"),
    path("releases/<int:pk>/sign", views.release_sign, name="sign"),
    path("policies", views.policy_list, name="policies"),
]
