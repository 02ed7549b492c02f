from __future__ import annotations

from django.urls import path

from . import views

app_name = "evidence"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("upload", views.document_upload, name="upload"),
    path("<uuid:pk>", views.document_detail, name="document"),
    path("<uuid:pk>/content", views.document_download, name="download"),
    path("<uuid:pk>/approve", views.document_approve, name="approve"),
    path("<uuid:pk>/attachments", views.document_attachments, name="attachments"),
    path("<uuid:pk>/delete", views.document_delete, name="delete"),
]
