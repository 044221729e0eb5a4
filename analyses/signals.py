"""Signals other apps listen to; ``analyses`` announces, it never calls the realtime layer."""

from django.dispatch import Signal

#: Sent with ``snapshot`` (a plain dict) when someone asks to push an analysis's current state
#: to its subscribers outside the seq stream.
snapshot_broadcast_requested = Signal()
