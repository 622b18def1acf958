"""The live event stream (``/api/experiments/ID/stream``, Server-Sent Events) served by uvicorn as ``make run``
serves it, on the test PostgreSQL and Redis: events are written by the real database sink, which wakes the stream
through Redis pub/sub."""
from __future__ import annotations

import json
import time

from typing import Any, Iterator

import pytest
from django.test import Client

from tests.webapp.asgi_support import AsgiServer, SseClient
from tests.webapp.support import in_a_thread_of_its_own, login, token_for, unsent_experiment
from webapp.experiments.models import Experiment, Status
from webapp.experiments.services import live_push, runs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(scope="module")
def asgi_server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsgiServer]:
    log = tmp_path_factory.mktemp("asgi") / "uvicorn.log"
    server = AsgiServer(log, workers=1, NASBOARD_STREAM_HEARTBEAT_SECONDS="1").start()
    yield server
    server.stop()


def _bearer(user: Any) -> dict[str, str]:
    return {"Authorization": token_for(user)["HTTP_AUTHORIZATION"]}


def _step(sink: runs.DatabaseSink, seq: int) -> None:
    sink(seq, {"type": "step", "v": 1, "time": time.time(), "epoch": 1, "step": seq, "steps_per_epoch": 10,
               "loss": 1.0 / seq, "acc": 0.1})


def _running(owner: Any, config: dict[str, Any], steps: int) -> tuple[Experiment, runs.DatabaseSink]:
    exp = unsent_experiment(owner, "streamed", config, Status.RUNNING)
    sink = runs.DatabaseSink(exp.pk)
    sink(1, {"type": "run_started", "v": 1, "time": time.time(), "epochs": 2, "steps_per_epoch": 10, "device": "cpu",
             "start_epoch": 0})
    for seq in range(2, steps + 1):
        _step(sink, seq)
    return exp, sink


def _end(exp: Experiment) -> None:
    """The run ends as run_dispatched ends it: the status, then the wake-up."""
    Experiment.objects.filter(pk=exp.pk).update(status=Status.FINISHED)
    live_push.publish(exp.pk, 0)


def test_events_in_order_with_ids_heartbeats_and_the_end(asgi_server: AsgiServer, alice: Any, tiny_config: dict[str, Any],
                                                         client: Client) -> None:
    exp, sink = _running(alice, tiny_config, 3)
    stream = SseClient(asgi_server.url, f"/api/experiments/{exp.pk}/stream", _bearer(alice))
    assert stream.response.status == 200
    assert stream.response.getheader("Content-Type").startswith("text/event-stream")
    messages = stream.messages()
    got = [next(messages) for _ in range(3)]
    assert [m.id for m in got] == ["1", "2", "3"]
    assert [m.data["events"][0]["seq"] for m in got] == [1, 2, 3]
    # each message is what a poll answers, for that one event
    polled = login(client, alice).get(f"/api/experiments/{exp.pk}/events?after=1&limit=1").json()
    assert got[1].data.keys() == polled.keys()
    assert got[1].data["events"] == polled["events"] and got[1].data["last_seq"] == 2
    assert got[0].data["status"] == "running"

    idle = next(messages)  # nothing new for a second: a heartbeat comment keeps the connection open
    assert idle.comments == ["heartbeat"] and idle.data is None

    _step(sink, 4)  # written by the sink, pushed through Redis
    _step(sink, 5)
    pushed = [m for m in (next(messages), next(messages), next(messages)) if not m.comments][:2]
    assert [m.id for m in pushed] == ["4", "5"]

    _end(exp)
    rest = [m for m in messages if not m.comments]
    assert [(m.event, m.id) for m in rest] == [("message", None), ("end", None)]  # the status change, then the end
    assert rest[0].data["status"] == "finished" and rest[-1].data["status"] == "finished"
    assert rest[-1].data["last_seq"] == 5
    stream.close()


def test_resume_after_last_event_id_without_duplicates(asgi_server: AsgiServer, alice: Any,
                                                       tiny_config: dict[str, Any]) -> None:
    exp, _ = _running(alice, tiny_config, 6)
    _end(exp)
    headers = _bearer(alice)
    # a browser's reconnect: Last-Event-ID wins over the ?after= of the address it first opened
    resumed = SseClient(asgi_server.url, f"/api/experiments/{exp.pk}/stream?after=1", {**headers, "Last-Event-ID": "4"})
    got = list(resumed.messages())
    assert [(m.event, m.id) for m in got] == [("message", "5"), ("message", "6"), ("end", None)]
    after = SseClient(asgi_server.url, f"/api/experiments/{exp.pk}/stream?after=6", headers)
    assert [m.event for m in after.messages()] == ["end"]  # an ended run with nothing new: the stream closes at once


def _json_answer(server: AsgiServer, path: str, headers: dict[str, str], method: str = "GET") -> tuple[int, Any]:
    stream = SseClient(server.url, path, headers) if method == "GET" else None
    if stream is None:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    assert stream.response.getheader("Content-Type") == "application/json"
    return stream.response.status, json.loads(stream.response.read())


def test_refusals_are_json_in_the_api_shape(asgi_server: AsgiServer, alice: Any, bob: Any,
                                            tiny_config: dict[str, Any]) -> None:
    exp, _ = _running(alice, tiny_config, 2)
    path = f"/api/experiments/{exp.pk}/stream"
    status, body = _json_answer(asgi_server, path, _bearer(bob))
    assert status == 404 and "not yours" in body["error"]
    status, body = _json_answer(asgi_server, path, {})
    assert status == 401 and "authentication required" in body["error"]
    status, body = _json_answer(asgi_server, path, {**_bearer(alice), "Last-Event-ID": "seven"})
    assert status == 400 and body == {"error": "the Last-Event-ID header must be a whole number (a sequence number), not 'seven'"}
    status, body = _json_answer(asgi_server, path + "?after=-1", _bearer(alice))
    assert status == 400 and "after must be 0 or more" in body["error"]
    status, body = _json_answer(asgi_server, path, _bearer(alice), method="POST")
    assert status == 405 and "use GET, HEAD" in body["error"]


def test_a_wsgi_server_refuses_the_stream_so_pages_poll(alice: Any, tiny_config: dict[str, Any], client: Client) -> None:
    exp, _ = _running(alice, tiny_config, 2)
    logged_in = login(client, alice)
    answer = in_a_thread_of_its_own(lambda: logged_in.get(f"/api/experiments/{exp.pk}/stream"))
    assert answer.status_code == 501
    assert "needs the ASGI server" in answer.json()["error"]


def test_session_login_may_listen(asgi_server: AsgiServer, alice: Any, tiny_config: dict[str, Any], client: Client) -> None:
    exp, _ = _running(alice, tiny_config, 2)
    _end(exp)
    cookie = login(client, alice).cookies["sessionid"].value
    stream = SseClient(asgi_server.url, f"/api/experiments/{exp.pk}/stream", {"Cookie": f"sessionid={cookie}"})
    assert [(m.event, m.id) for m in stream.messages()] == [("message", "1"), ("message", "2"), ("end", None)]




def test_streams_at_the_same_point_share_one_read(alice: Any, tiny_config: dict[str, Any]) -> None:
    """The streams of one run wake together: reads of the same run from the same sequence number in flight at once
    are one read (the same answers), and nothing is kept once it is done."""
    import asyncio

    from webapp.experiments.api import stream as stream_view

    exp, _ = _running(alice, tiny_config, 3)

    async def together() -> list[Any]:
        return list(await asyncio.gather(stream_view.shared_read(exp.pk, 1), stream_view.shared_read(exp.pk, 1),
                                         stream_view.shared_read(exp.pk, 2)))

    first, second, other = in_a_thread_of_its_own(lambda: asyncio.run(together()))
    assert first is second and other is not first
    assert [a["last_seq"] for a in first[0]] == [2, 3] and [a["last_seq"] for a in other[0]] == [3]
    assert stream_view._inflight == {}
