"""HTTP routes of the realtime app: the live pages under live/, the broadcast trigger and stats."""

from django.urls import include, path

from analyses.api.views import AnalysisBroadcastApi

from . import pages
from .views import RealtimeStatsApi

live_patterns = (
    [
        path("", pages.dashboard, name="dashboard"),
        path("<str:analysis_id>/", pages.detail, name="detail"),
    ],
    "live",
)

urlpatterns = [
    path("live/", include(live_patterns)),
    path("ws/broadcast/<str:analysis_id>", AnalysisBroadcastApi.as_view(), name="ws-broadcast"),
    path("ws/stats", RealtimeStatsApi.as_view(), name="ws-stats"),
    path("api/realtime/stats/", RealtimeStatsApi.as_view(), name="realtime-stats"),
]
