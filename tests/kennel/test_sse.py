"""The client's event-stream decoder, on the examples of the WHATWG HTML spec (9.2.6)."""

from __future__ import annotations

from kennel.sse import ServerSentEvent, SseDecoder


def decode(stream: str) -> list[ServerSentEvent]:
    decoder = SseDecoder()
    events = [decoder.feed(line) for line in stream.splitlines()]
    return [e for e in events if e is not None]


def test_named_events_with_json_data() -> None:
    stream = 'event: queued\ndata: {"position": 2}\n\nevent: running\ndata: {}\n\n'
    events = decode(stream)
    assert [e.event for e in events] == ["queued", "running"]
    assert events[0].json() == {"position": 2}


def test_multiline_data_comments_and_the_default_type() -> None:
    stream = ": keep-alive\ndata: YHOO\ndata: +2\ndata: 10\n\n"
    assert decode(stream) == [ServerSentEvent(event="message", data="YHOO\n+2\n10")]


def test_ids_persist_and_a_lone_field_without_data_dispatches_nothing() -> None:
    stream = "id: 1\ndata: first\n\nevent: ignored\n\ndata: second\n\nretry: 3000\ndata:x\n\n"
    events = decode(stream)
    assert [(e.data, e.id, e.event) for e in events] == [
        ("first", "1", "message"),
        ("second", "1", "message"),
        ("x", "1", "message"),
    ]
    assert events[2].retry_ms == 3000


def test_an_unfinished_event_is_not_dispatched() -> None:
    assert decode("data: half") == []
