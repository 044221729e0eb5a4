"""The live pages, under live/ (the APIs and their routes are wired in secureai/urls.py)."""

from django.urls import path

from . import pages

app_name = "live"
urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("<str:analysis_id>/", pages.detail, name="detail"),
]
