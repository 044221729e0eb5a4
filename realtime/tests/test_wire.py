"""Frames shared by many sockets: framed once, with the bytes a WebSocket text frame must have."""

from functools import partial

from realtime.wire import Frame, daphne_protocol


def test_a_frame_is_built_once_and_is_an_unmasked_text_frame():
    frame = Frame.of({"type": "progress_update", "seq": 7})
    assert (frame.kind, frame.text) == ("progress_update", '{"type":"progress_update","seq":7}')
    prepared = frame.prepared
    assert frame.prepared is prepared
    data = prepared.payloadHybi
    assert data[0] == 0x81  # FIN + text opcode
    assert data[1] == len(frame.text)  # short length, no mask bit: server frames are unmasked
    assert data[2:] == frame.text.encode()


def test_long_payloads_use_the_extended_length():
    frame = Frame("x" * 1000, "pong")
    data = frame.prepared.payloadHybi
    assert data[1] == 126 and int.from_bytes(data[2:4], "big") == 1000 and data[4:] == b"x" * 1000


def test_only_daphnes_send_is_taken_for_direct_writes():
    async def send(message):
        return None

    assert daphne_protocol(send) is None
    assert daphne_protocol(partial(send)) is None
    assert daphne_protocol(partial(print, object())) is None
