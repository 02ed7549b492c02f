from __future__ import annotations

from django.urls import path

from . import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("<int:pk>", views.incident_detail, name="detail"),
    path("<int:pk>/update", views.incident_update, name="update"),
    path("from-alert/<int:pk>", views.incident_from_alert, name="from-alert"),
]
