"""The live page on the production server (uvicorn, ``webapp.asgi``): it listens to the event stream instead of
polling, falls back to polling when the stream is refused, and comes through a server restart without losing or
repeating an event."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, Iterator

import pytest
from django.utils import timezone

from tests.webapp.asgi_support import AsgiServer
from tests.webapp.browser_support import log_in
from tests.webapp.fault_support import TcpProxy
from tests.webapp.support import unsent_experiment
from webapp.experiments.models import Experiment, Status
from webapp.experiments.services import live_push, runs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

#: what Chromium logs while the server is away or refuses a request: expected in these tests, nothing else is
OUTAGE = ("ERR_CONNECTION_REFUSED", "ERR_EMPTY_RESPONSE", "ERR_CONNECTION_RESET", "ERR_INCOMPLETE_CHUNKED_ENCODING",
          "ERR_SOCKET_NOT_CONNECTED", "status of 404")


@pytest.fixture
def asgi_server(django_db_setup: None, tmp_path: Any) -> Iterator[AsgiServer]:
    server = AsgiServer(tmp_path / "uvicorn.log", workers=1).start()
    yield server
    server.stop()


def _running(owner: Any, config: dict[str, Any]) -> tuple[Experiment, runs.DatabaseSink]:
    exp = unsent_experiment(owner, "pushed", config, Status.RUNNING)
    sink = runs.DatabaseSink(exp.pk)
    sink(1, {"type": "run_started", "v": 1, "time": time.time(), "epochs": 2, "steps_per_epoch": 50, "device": "cpu",
             "start_epoch": 0})
    _steps(sink, 2, 3)
    # the sink stamps the heartbeat: move it into the future, so that no worker's reaper takes the run for lost
    Experiment.objects.filter(pk=exp.pk).update(heartbeat_at=timezone.now() + timedelta(hours=1))
    return exp, sink


def _steps(sink: runs.DatabaseSink, first: int, last: int) -> None:
    for seq in range(first, last + 1):
        sink(seq, {"type": "step", "v": 1, "time": time.time(), "epoch": 1, "step": seq, "steps_per_epoch": 50,
                   "loss": 1.0 / seq, "acc": 0.01 * seq})


def _cancelled(exp: Experiment) -> None:
    Experiment.objects.filter(pk=exp.pk).update(status=Status.CANCELLED, ended_at=timezone.now())
    live_push.publish(exp.pk, 0)


def _applied(page: Any) -> list[int]:
    """The step numbers the page drew, in order (one per step event applied; it plots them as fractions of epochs)."""
    return [round(x * 50) for x in page.evaluate("window.nasboard.steps.x.slice()")]


def _log_in(page: Any, server: AsgiServer) -> None:
    log_in(page, server.url, "alice")


def test_the_live_page_listens_to_pushed_events(asgi_server: AsgiServer, page: Any, alice: Any,
                                                tiny_config: dict[str, Any]) -> None:
    exp, sink = _running(alice, tiny_config)
    _log_in(page, asgi_server)
    page.goto(f"{asgi_server.url}/experiments/{exp.pk}/")
    page.wait_for_function("window.nasboard.streams === 1 && window.nasboard.lastSeq === 3")
    polls = page.evaluate("window.nasboard.polls")
    _steps(sink, 4, 8)
    page.wait_for_function("window.nasboard.lastSeq === 8")
    assert page.evaluate("window.nasboard.polls") == polls  # pushed, not polled
    _cancelled(exp)
    page.wait_for_function("window.nasboard.stopped")
    assert page.text_content("#status").strip() == "Cancelled"
    assert len(_applied(page)) == 7  # steps 2..8, each once
    assert page.evaluate("window.nasboard.polls") == polls and page.evaluate("window.nasboard.streamFailures") == 0


def test_a_refused_stream_falls_back_to_polling(asgi_server: AsgiServer, page: Any, alice: Any,
                                               tiny_config: dict[str, Any]) -> None:
    exp, sink = _running(alice, tiny_config)
    page.route("**/stream*", lambda route: route.fulfill(status=404, content_type="application/json",
                                                          body='{"error": "no API endpoint"}'))
    _log_in(page, asgi_server)
    page.goto(f"{asgi_server.url}/experiments/{exp.pk}/")
    page.wait_for_function("window.nasboard.streamFailures === 1 && window.nasboard.lastSeq === 3")
    polls = page.evaluate("window.nasboard.polls")
    _steps(sink, 4, 6)
    page.wait_for_function("window.nasboard.lastSeq === 6")
    assert page.evaluate("window.nasboard.polls") > polls  # polled
    assert page.evaluate("window.nasboard.streams") == 1  # and never tried the refused stream again
    _cancelled(exp)
    page.wait_for_function("window.nasboard.stopped")
    assert len(_applied(page)) == 5
    page.console_problems[:] = [p for p in page.console_problems if not any(o in p for o in OUTAGE)]


def _through_an_outage(page: Any, base: str, alice: Any, tiny_config: dict[str, Any], go_down: Any, come_back: Any,
                       pause: float) -> None:
    """A live page on ``base`` while the run writes steps 6-9 during an outage (``go_down`` .. ``come_back``): nothing
    comes through it, and afterwards the page has every step once, in order."""
    exp, sink = _running(alice, tiny_config)
    log_in(page, base, "alice")
    page.goto(f"{base}/experiments/{exp.pk}/")
    page.wait_for_function("window.nasboard.streams === 1 && window.nasboard.lastSeq === 3")
    _steps(sink, 4, 5)
    page.wait_for_function("window.nasboard.lastSeq === 5")
    go_down()
    _steps(sink, 6, 9)  # written while the page cannot reach the server
    time.sleep(pause)  # the page notices and retries against a server it cannot reach
    assert page.evaluate("window.nasboard.lastSeq") == 5  # nothing came through the outage
    come_back()
    _steps(sink, 10, 12)
    page.wait_for_function("window.nasboard.lastSeq === 12", timeout=60_000)
    _cancelled(exp)
    page.wait_for_function("window.nasboard.stopped", timeout=60_000)
    assert _applied(page) == list(range(2, 13))  # every step once, in order
    page.console_problems[:] = [p for p in page.console_problems if not any(o in p for o in OUTAGE)]


def test_the_page_survives_a_server_restart(asgi_server: AsgiServer, page: Any, alice: Any,
                                            tiny_config: dict[str, Any]) -> None:
    _through_an_outage(page, asgi_server.url, alice, tiny_config, asgi_server.stop, asgi_server.start, pause=2)


def test_the_page_survives_a_network_drop(asgi_server: AsgiServer, page: Any, alice: Any,
                                          tiny_config: dict[str, Any]) -> None:
    """The network between the browser and the server drops (a relay closes the open stream and refuses new
    connections) while the run writes on; back, the page reads from its last sequence number: nothing lost, nothing
    twice. (Chromium's offline emulation fails new requests only: an open stream goes on reading through it.)"""
    relay = TcpProxy(("127.0.0.1", asgi_server.port))
    url = f"http://127.0.0.1:{relay.port}"  # the page reaches the server only through the relay
    _through_an_outage(page, url, alice, tiny_config, relay.cut, relay.restore, pause=5)
    page.goto("about:blank")  # off the relay before it closes, so that nothing is logged after this check
    relay.cut()
