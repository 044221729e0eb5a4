"""HTTP routes; the WebSocket routes are in realtime.routing."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import health
from .tokens import TokenBlacklistApi, TokenObtainPairApi, TokenRefreshApi

urlpatterns = [
    path("admin/", admin.site.urls),
    # Sign-in for the live pages; the socket then authenticates with the session cookie.
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/token/", TokenObtainPairApi.as_view(), name="token-obtain"),
    path("api/token/refresh/", TokenRefreshApi.as_view(), name="token-refresh"),
    path("api/token/blacklist/", TokenBlacklistApi.as_view(), name="token-blacklist"),
    path("api/", include("analyses.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("realtime.urls")),
]

handler404 = "secureai.errors.not_found"
handler500 = "secureai.errors.server_error"
