from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from . import account_views, list_views, reauth_views, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/deployments", list_views.deployment_list, name="deployments"),
    path("dashboard/violations", list_views.violation_list, name="violations"),
    path("dashboard/alerts", list_views.alert_list, name="alerts"),
    path("dashboard/releases-waiting", list_views.release_waiting_list, name="releases-waiting"),
    path("lineage/explore/", views.explore, name="explore"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("login/code", account_views.login_code, name="login-code"),
    path("login/sso", account_views.oidc_start, name="oidc-start"),
    path("login/sso/callback", account_views.oidc_callback, name="oidc-callback"),
    path("login/sso/reauth", reauth_views.reauth_start, name="oidc-reauth"),
    path("login/sso/reauth/continue", reauth_views.reauth_continue, name="reauth-continue"),
    path("settings/two-factor/", account_views.two_factor, name="two-factor"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/tokens/", views.token_list, name="tokens"),
    path("settings/tokens/new", views.token_create, name="token-create"),
    path("settings/tokens/<int:pk>/revoke", views.token_revoke, name="token-revoke"),
    re_path(r"^lineage/node/(?P<node_id>[\s\S]+)$", views.node_detail, name="node-detail"),
]
