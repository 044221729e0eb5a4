"""HTTP routes of the realtime app: the live pages under live/ and the broadcast trigger."""

from django.urls import include, path

from analyses.api.views import AnalysisBroadcastApi

from . import pages

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
]
