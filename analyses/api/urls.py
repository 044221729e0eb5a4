from django.urls import path

from . import views

urlpatterns = [
    path("analyses/", views.AnalysisListCreateApi.as_view(), name="analysis-list"),
    path("analyses/<str:analysis_id>/", views.AnalysisDetailApi.as_view(), name="analysis-detail"),
    path("analyses/<str:analysis_id>/transition/", views.AnalysisTransitionApi.as_view(), name="analysis-transition"),
    path("analyses/<str:analysis_id>/history/", views.AnalysisHistoryApi.as_view(), name="analysis-history"),
    path("analyses/<str:analysis_id>/broadcast/", views.AnalysisBroadcastApi.as_view(), name="analysis-broadcast"),
]
