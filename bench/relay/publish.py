"""The relay's HTTP publish view, as a tutorial would write it: no authentication, no database.

``POST /publish/<analysis_id>`` sends the next event of that analysis (numbered per process) to
its group and answers ``{"seq", "sent_at"}``. The event has the shape and size of ours
(docs/protocol.md §2), with the send time as its message.
"""

import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from channels.layers import get_channel_layer
from django.http import HttpRequest, JsonResponse

ACTOR = "bench-producer"
_seqs: defaultdict[str, int] = defaultdict(int)


def relay_body(analysis_id: str, seq: int, now: float) -> dict[str, Any]:
    return {
        "type": "progress_update",
        "analysis_id": analysis_id,
        "seq": seq,
        "event": "progress_update",
        "status": "processing",
        "previous_status": "processing",
        "stage": "upload_validation",
        "progress": 0,
        "retry_count": 0,
        "message": f"t={now:.6f}",
        "error": None,
        "result": None,
        "actor": ACTOR,
        "timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


async def publish(request: HttpRequest, analysis_id: str) -> JsonResponse:
    _seqs[analysis_id] += 1
    seq, now = _seqs[analysis_id], time.time()
    event = relay_body(analysis_id, seq, now)
    await get_channel_layer().group_send(f"analysis.{analysis_id}", {"type": "analysis.event", "event": event})
    return JsonResponse({"seq": seq, "sent_at": now})
