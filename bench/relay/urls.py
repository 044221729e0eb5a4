"""The relay's one HTTP route."""

from django.urls import path

from .publish import publish

urlpatterns = [path("publish/<str:analysis_id>", publish)]
