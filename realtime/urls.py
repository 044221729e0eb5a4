from django.urls import path

from analyses.api.views import AnalysisBroadcastApi

urlpatterns = [
    path("ws/broadcast/<str:analysis_id>", AnalysisBroadcastApi.as_view(), name="ws-broadcast"),
]
