from __future__ import annotations

from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("new", views.report_start, name="start"),
    path("verify", views.report_verify, name="verify"),
    path("erasure", views.erasure_tool, name="erasure"),
    path("posture/<str:framework>", views.posture_controls, name="posture"),
    path("<uuid:pk>/", views.report_detail, name="detail"),
    path("<uuid:pk>/pdf", views.report_pdf, name="pdf"),
    path("<uuid:pk>/csv", views.report_csv, name="csv"),
    path("<uuid:pk>/countersign", views.report_countersign, name="countersign"),
]
