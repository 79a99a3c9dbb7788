"""What a message and a conversation may carry, through a real ``tokenwire serve``: images
(limits, checks, and how they reach an upstream) and personas."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from tests.providers.served import ServerFactory, conversation, openai_server, stream
from tests.providers.upstream import UpstreamThread

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()


@pytest.fixture
def upstream() -> Iterator[UpstreamThread]:
    thread = UpstreamThread()
    with thread:
        yield thread


def test_images_reach_the_upstream_as_image_url_parts(
    server_factory: ServerFactory, upstream: UpstreamThread
) -> None:
    server = openai_server(server_factory, upstream.upstream)
    with server.client() as client:
        cid = conversation(client)
        events = stream(client, cid, content="What is this?", images=[PNG])
    assert events[-1]["type"] == "message.end"
    parts = upstream.upstream.requests[0]["messages"][-1]["content"]
    assert parts == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]


def test_image_limits(server_factory: ServerFactory, upstream: UpstreamThread) -> None:
    server = openai_server(server_factory, upstream.upstream, max_image_bytes=1024)
    with server.client() as client:
        cid = conversation(client)
        url = f"/api/v1/conversations/{cid}/messages"
        big = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048).decode()
        too_big = client.post(url, json={"content": "Look", "images": [big]})
        assert too_big.status_code == 413, too_big.text
        not_base64 = client.post(url, json={"content": "Look", "images": ["%%%"]})
        assert not_base64.status_code == 422, not_base64.text
        text = base64.b64encode(b"just some text, no image").decode()
        not_image = client.post(url, json={"content": "Look", "images": [text]})
        assert not_image.status_code == 422, not_image.text
        assert client.get(url).json()["items"] == []  # nothing stored
    assert upstream.upstream.requests == []


def test_a_model_without_images_refuses_them_before_storing(server_factory: ServerFactory) -> None:
    server = server_factory(provider="llama")
    with server.client() as client:
        cid = conversation(client)
        url = f"/api/v1/conversations/{cid}/messages"
        refused = client.post(url, json={"content": "Look", "images": [PNG]})
        assert refused.status_code == 422, refused.text
        assert "image" in refused.json()["error"]["message"]
        assert client.get(url).json()["items"] == []


def test_personas_are_listed_and_reach_the_system_prompt(
    server_factory: ServerFactory, upstream: UpstreamThread
) -> None:
    server = openai_server(server_factory, upstream.upstream)
    with server.client() as client:
        listed = client.get("/api/v1/personas")
        assert listed.status_code == 200, listed.text
        names = {p["name"] for p in listed.json()["items"]}
        assert {"general", "wellness_specialist"} <= names
        cid = conversation(client, persona="wellness_specialist", metadata={"goal_id": "g-42"})
        stream(client, cid, content="I want to sleep better.")
        unknown = client.post("/api/v1/conversations", json={"persona": "nobody"})
        assert unknown.status_code == 422, unknown.text
    system = upstream.upstream.requests[0]["messages"][0]
    assert system["role"] == "system"
    assert "wellness specialist" in system["content"]
    assert "goal_id: g-42" in system["content"]
