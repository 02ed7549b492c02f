from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal.metrics.views import metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/audit/", include("portal.audit.urls")),
    path("api/v1/", include("portal.approvals.urls")),
    path("api/v1/", include("portal.reports.urls")),
    path("api/v1/", include("portal.evidence.urls")),
    path("api/v1/", include("lineage.urls")),
    path("api/v1/", include("portal.governance.urls")),
    path("api/v1/", include("portal.monitoring.urls")),
    path("api/v1/", include("portal.incidents.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script from ?script, so the page needs no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs.html"),
         name="api-docs"),
    path("audit/", include("portal.audit.page_urls")),
    path("approvals/", include("portal.approvals.page_urls")),
    path("governance/", include("portal.governance.page_urls")),
    path("reports/", include("portal.reports.page_urls")),
    path("evidence/", include("portal.evidence.page_urls")),
    path("incidents/", include("portal.incidents.page_urls")),
    path("metrics", metrics, name="metrics"),
    path("", include("portal.web.urls")),
]

handler403 = "portal.web.errors.permission_denied"
handler404 = "portal.lib.errors.not_found"
handler500 = "portal.lib.errors.server_error"
