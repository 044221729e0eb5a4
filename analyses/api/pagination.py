"""Limit/offset pagination that refuses a malformed limit or offset instead of ignoring it."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

from analyses.contract import HISTORY_LIMIT_MAX


class StrictLimitOffsetPagination(LimitOffsetPagination):
    max_limit = HISTORY_LIMIT_MAX  # a page of analyses is bounded like a page of history

    def _parameter(self, request, name: str, minimum: int, maximum: int | None) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f"of {minimum} or more"
            raise ValidationError({name: [f"Must be a whole number {bound}."]})
        return value

    def get_limit(self, request) -> int:
        limit = self._parameter(request, self.limit_query_param, 1, self.max_limit)
        return self.default_limit if limit is None else limit

    def get_offset(self, request) -> int:
        return self._parameter(request, self.offset_query_param, 0, None) or 0
