"""The feed's HTTP side (``twin.live.feed``): what a load user leases and reports, and the close.

Driven through the ASGI app in-process (httpx's ASGI transport), on the loop the offers live on.
"""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from twin.live.feed import Feed, feed_routes


async def _with_feed(steps):  # type: ignore[no-untyped-def]
    feed, app = Feed(), FastAPI()
    feed_routes(app, feed, {"clock": {"speed": 60}})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://control") as client:
        return await steps(feed, client)


def test_a_leased_message_is_answered_with_the_ack_the_load_user_read() -> None:
    async def steps(feed: Feed, client: httpx.AsyncClient) -> None:
        offer = feed.offer("H1", "ADT^A01", "C1", "MSH|...")
        leased = (await client.get("/feed/next", params={"wait": 0})).json()
        assert leased["lease"] == offer.lease and leased["payload"] == "MSH|..."
        answer = await client.post(f"/feed/leases/{offer.lease}", json={"ack": "MSA|AA|C1"})
        assert answer.json() == {"taken": True} and offer.answer.result() == "MSA|AA|C1"
        again = await client.post(f"/feed/leases/{offer.lease}", json={"ack": "MSA|AA|C1"})
        assert again.json() == {"taken": False} and feed.counts["late_reports"] == 1

    asyncio.run(_with_feed(steps))


def test_close_over_http_closes_the_feed_and_withdraws_what_nobody_leased() -> None:
    async def steps(feed: Feed, client: httpx.AsyncClient) -> None:
        offer = feed.offer("H1", "ADT^A03", "C2", "MSH|...")
        closed = await client.post("/feed/close")
        assert closed.status_code == 200 and feed.closed  # not taken for a lease named "close"
        assert offer.answer.result() is None and feed.counts["withdrawn"] == 1
        assert (await client.get("/feed/next", params={"wait": 0})).status_code == 204

    asyncio.run(_with_feed(steps))


def test_a_report_without_an_ack_field_is_refused_naming_it() -> None:
    async def steps(feed: Feed, client: httpx.AsyncClient) -> None:
        for body in ({"content": b"not json"}, {"json": {"ack": 7}}, {"json": {}}):
            answer = await client.post("/feed/leases/L0", **body)  # type: ignore[arg-type]
            assert answer.status_code == 422, body
        assert "ack" in (await client.post("/feed/leases/L0", json={})).text

    asyncio.run(_with_feed(steps))


def test_a_final_verdict_waited_for_is_handed_over_or_refused_when_the_stack_stops_without_one() -> None:
    from types import SimpleNamespace

    from twin.live.control import control_app

    async def ask(publish: dict[str, object] | None) -> httpx.Response:
        world = SimpleNamespace(final=None, over=asyncio.Event())
        app = control_app(world)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://control") as client:
            waiting = asyncio.create_task(client.get("/check", params={"final": "true"}))
            await asyncio.sleep(0.05)
            assert not waiting.done()  # it waits for the run to end
            world.final = publish
            world.over.set()
            return await waiting

    answered = asyncio.run(ask({"in_sync": True}))
    assert answered.status_code == 200 and answered.json() == {"in_sync": True}
    refused = asyncio.run(ask(None))  # planted: the stack stopped without judging
    assert refused.status_code == 503 and "without a verdict" in refused.text
