from django.urls import path

from analyses.api.views import AnalysisBroadcastApi

from .views import RealtimeStatsApi

urlpatterns = [
    path("ws/broadcast/<str:analysis_id>", AnalysisBroadcastApi.as_view(), name="ws-broadcast"),
    path("ws/stats", RealtimeStatsApi.as_view(), name="ws-stats"),
    path("api/realtime/stats/", RealtimeStatsApi.as_view(), name="realtime-stats"),
]
