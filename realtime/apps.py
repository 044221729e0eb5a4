from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from analyses.models import Analysis, StatusEvent
        from analyses.signals import snapshot_broadcast_requested

        # metrics: registered at start, so every process exports every series before it counts any.
        from . import broadcasting, metrics  # noqa: F401

        post_save.connect(broadcasting.on_event_saved, sender=StatusEvent, dispatch_uid="realtime.event_saved")
        post_save.connect(broadcasting.on_analysis_saved, sender=Analysis, dispatch_uid="realtime.analysis_saved")
        snapshot_broadcast_requested.connect(
            broadcasting.on_snapshot_requested, dispatch_uid="realtime.snapshot_requested"
        )
