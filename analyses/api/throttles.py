"""The limit on creating analyses: ``THROTTLE_CREATE_PER_MINUTE`` per user, counted in the shared cache."""

import logging
import math

from django.conf import settings
from redis import RedisError
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class AnalysisCreateThrottle(UserRateThrottle):
    """Counts creations only (listing shares the view); lets requests through when Redis cannot be reached."""

    scope = "analysis_create"

    def get_rate(self) -> str:
        return f"{settings.THROTTLE_CREATE_PER_MINUTE}/min"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method != "POST":
            return True
        try:
            return super().allow_request(request, view)
        except RedisError:
            logger.warning("Creation throttle skipped: Redis cannot be reached", exc_info=True)
            return True

    def wait(self) -> float | None:
        # Whole seconds, rounded up, so Retry-After never says 0 while the limit still holds.
        wait = super().wait()
        return None if wait is None else math.ceil(wait)
