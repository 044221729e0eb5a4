import pytest
from asgiref.sync import sync_to_async

from analyses.services import analysis_transition
from analyses.state_machine import Change, Status

pytestmark = pytest.mark.django_db(transaction=True)


async def test_subscribe_and_receive(open_socket, owner, make_analysis, status_changer):
    analysis = await sync_to_async(make_analysis)(owner)
    socket = await open_socket(user=owner)
    reply = await socket.request({"type": "subscribe", "analysis_id": str(analysis.pk), "since_seq": 0, "request_id": "r1"})
    assert reply == {"type": "subscribe_success", "analysis_id": str(analysis.pk), "seq": 1, "request_id": "r1"}
    replay = await socket.receive()
    assert replay["seq"] == 1 and replay["replay"] is True
    await sync_to_async(analysis_transition)(analysis_id=analysis.pk, change=Change(status=Status.QUEUED), actor="x")
    live = await socket.receive()
    assert live["seq"] == 2 and live["type"] == "status_update" and "replay" not in live
