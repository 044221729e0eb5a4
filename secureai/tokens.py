"""The token endpoints: simplejwt's views, documented with their errors, and a refresh that survives a deleted user.

Sign-in is also throttled (``secureai.signin_throttle``), hence its documented 429.
"""

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers, views

from .schema import error_responses


class TokenRefreshSerializer(serializers.TokenRefreshSerializer):
    """simplejwt's refresh, except that a user who no longer exists gets the same 401 as an inactive one.

    simplejwt looks the user up with ``objects.get`` and lets ``DoesNotExist`` escape (a 500).
    """

    # Only sent: without ROTATE_REFRESH_TOKENS the answer carries the access token alone, and the
    # schema must not promise a refresh token back.
    refresh = drf_serializers.CharField(write_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account") from None


@extend_schema(responses={200: serializers.TokenObtainPairSerializer, **error_responses(400, 401, 429)})
class TokenObtainPairApi(views.TokenObtainPairView):
    """An access and a refresh token for a username and password."""


@extend_schema(responses={200: TokenRefreshSerializer, **error_responses(400, 401)})
class TokenRefreshApi(views.TokenRefreshView):
    """A new access token for a refresh token that is neither expired nor blacklisted."""


@extend_schema(
    responses={
        200: OpenApiResponse(OpenApiTypes.OBJECT, description="Revoked; an empty object."),
        **error_responses(400, 401),
    }
)
class TokenBlacklistApi(views.TokenBlacklistView):
    """Revoke a refresh token (signing out an app): it can never be refreshed again."""
