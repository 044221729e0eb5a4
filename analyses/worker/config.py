"""The worker's settings as one typed value, read from ``settings.WORKER``."""

import os
import socket
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class WorkerConfig:
    name: str
    pipeline: tuple[str, ...]
    poll_interval: float
    heartbeat_interval: float
    stall_timeout: float
    sweep_interval: float
    retry_backoff: float
    retry_backoff_max: float
    demo_interval: float

    @classmethod
    def from_settings(cls, **overrides: Any) -> "WorkerConfig":
        worker = settings.WORKER
        config = cls(
            name=worker["NAME"] or default_worker_name(),
            pipeline=tuple(worker["PIPELINE"]),
            poll_interval=worker["POLL_INTERVAL"],
            heartbeat_interval=worker["HEARTBEAT_INTERVAL"],
            stall_timeout=worker["STALL_TIMEOUT"],
            sweep_interval=worker["SWEEP_INTERVAL"],
            retry_backoff=worker["RETRY_BACKOFF"],
            retry_backoff_max=worker["RETRY_BACKOFF_MAX"],
            demo_interval=worker["DEMO_INTERVAL"],
        )
        return replace(config, **{key: value for key, value in overrides.items() if value is not None})


def default_worker_name() -> str:
    """Unique per process, so two workers on one host never share a name."""
    return f"worker-{socket.gethostname().split('.')[0]}-{os.getpid()}"[:150]
