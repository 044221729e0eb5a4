"""The map of the site's HTTP routes; the WebSocket routes are in realtime.routing."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from analyses.api.views import AnalysisBroadcastApi
from realtime.api import RealtimeStatsApi
from realtime.asyncapi import asyncapi_json_view, asyncapi_yaml_view

from . import health, metrics
from .tokens import TokenBlacklistApi, TokenObtainPairApi, TokenRefreshApi

urlpatterns = [
    path("admin/", admin.site.urls),
    # Sign-in for the live pages; the socket then authenticates with the session cookie.
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The APIs (docs/protocol.md §4): tokens, analyses, the broadcast trigger and the realtime stats
    # (each also at its /ws/ path), and their schema.
    path("api/token/", TokenObtainPairApi.as_view(), name="token-obtain"),
    path("api/token/refresh/", TokenRefreshApi.as_view(), name="token-refresh"),
    path("api/token/blacklist/", TokenBlacklistApi.as_view(), name="token-blacklist"),
    path("api/", include("analyses.api.urls")),
    path("ws/broadcast/<str:analysis_id>", AnalysisBroadcastApi.as_view(), name="ws-broadcast"),
    path("api/realtime/stats/", RealtimeStatsApi.as_view(), name="realtime-stats"),
    path("ws/stats", RealtimeStatsApi.as_view(), name="ws-stats"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # The WebSocket protocol, as the OpenAPI schema above describes the HTTP API.
    path("api/asyncapi.yaml", asyncapi_yaml_view, name="asyncapi-yaml"),
    path("api/asyncapi.json", asyncapi_json_view, name="asyncapi-json"),
    # Probes for load balancers and orchestrators.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # This process's Prometheus metrics (docs/protocol.md §6).
    path("metrics", metrics.MetricsApi.as_view(), name="metrics"),
    # The live pages.
    path("live/", include("realtime.urls")),
]

handler404 = "secureai.errors.not_found"
handler500 = "secureai.errors.server_error"
