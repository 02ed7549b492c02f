from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/audit/", include("portal.audit.urls")),
    path("api/v1/", include("portal.approvals.urls")),
    path("api/v1/", include("portal.reports.urls")),
    path("api/v1/", include("portal.evidence.urls")),
    path("api/v1/", include("lineage.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("audit/", include("portal.audit.page_urls")),
    path("approvals/", include("portal.approvals.page_urls")),
    path("reports/", include("portal.reports.page_urls")),
    path("evidence/", include("portal.evidence.page_urls")),
    path("", include("portal.web.urls")),
]
