from django.apps import AppConfig


class AnalysesConfig(AppConfig):
    name = "analyses"
    verbose_name = "Analyses"

    def ready(self) -> None:
        # Registered at start, so every process exports every series before it counts any.
        from . import metrics  # noqa: F401
