"""``GET /api/experiments/ID/stream``: a run's new events pushed as Server-Sent Events, for the live page.

One SSE message per event (``id: SEQ``), whose data is what ``/events?after=`` answers for that one event (status,
progress, the event with its log line, the sections' lines it changes), so the page applies both the same way. A
reconnecting client resumes after ``Last-Event-ID`` (or ``?after=SEQ``); a status change without an event (a cancel
requested) comes as a message without an id; ``event: end`` says the run has ended and everything was sent, and
the stream closes. A comment line every NASBOARD_STREAM_HEARTBEAT_SECONDS keeps idle connections open.

It is a plain async Django view (not a ninja endpoint): it must hold the connection without a thread, which needs
the ASGI server (``webapp.asgi``). Who may call and the error answers are the API's: session or Bearer token, JSON
``{"error": ...}``, 404 for another user's run.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from webapp.experiments import selectors
from webapp.experiments.api.auth import BearerToken
from webapp.experiments.api.errors import AUTHENTICATION_REQUIRED, ApiError, error_response, method_not_allowed
from webapp.experiments.api.wakeup import open_wakeup
from webapp.experiments.models import ENDED_STATUSES, Experiment
from webapp.experiments.presenters.live import events_answer

#: how long a browser waits before reconnecting a dropped stream, in milliseconds
RETRY_MS = 1000


def can_stream(request: HttpRequest) -> bool:
    """Whether this server can hold a stream open: only under ASGI (a page served by WSGI polls instead)."""
    return isinstance(request, ASGIRequest)


def start_seq(request: HttpRequest) -> int:
    """Where the stream starts: after ``Last-Event-ID`` (a browser's reconnect), else ``?after=``, else 0."""
    for name, raw in (("the Last-Event-ID header", request.headers.get("Last-Event-ID")),
                      ("after", request.GET.get("after"))):
        if raw is None or raw == "":
            continue
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"{name} must be a whole number (a sequence number), not {raw!r}") from None
        if value < 0:
            raise ApiError(400, f"{name} must be 0 or more, not {value}")
        return value
    return 0


def _caller(request: HttpRequest) -> Any:
    """The API's caller (Bearer token first, as the other endpoints), or 401."""
    user = BearerToken()(request)
    if user is None and request.user.is_authenticated:
        user = request.user
    if user is None:
        raise ApiError(401, AUTHENTICATION_REQUIRED)
    return user


def _visible(request: HttpRequest, pk: int) -> Experiment:
    try:
        return selectors.get_experiment(_caller(request), pk)
    finally:
        close_old_connections()


def read_after(pk: int, after: int) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
    """One look at the database: the answers for the events after ``after`` (one per event, at most a page), the
    run's state with no event, and whether the stream may end (the run had ended before its events were read)."""
    try:
        exp = Experiment.objects.filter(pk=pk).first()
        if exp is None:  # deleted while watched: nothing more will come
            return [], {}, True
        ended = exp.status in ENDED_STATUSES  # read before the events: an ended run wrote them all first
        # the sink moves last_seq with each event, in the event's transaction: nothing newer, no events query
        events = selectors.events_after(exp, after, settings.NASBOARD_EVENTS_PAGE + 1) if exp.last_seq > after else []
        page = events[:settings.NASBOARD_EVENTS_PAGE]
        answers = [events_answer(exp, [event], event["seq"] - 1, False) for event in page]
        return answers, events_answer(exp, [], after, False), ended and len(events) == len(page)
    finally:
        close_old_connections()  # this runs on a pool thread: close or keep the connection as a request would


_read = sync_to_async(read_after, thread_sensitive=False)
#: reads in flight in this server process, by (run, after): the streams of one run wake together on the same message
#: and mostly stand at the same sequence number, so they share one read instead of each making its own
_inflight: dict[tuple[int, int], asyncio.Future[tuple[list[dict[str, Any]], dict[str, Any], bool]]] = {}


async def shared_read(pk: int, after: int) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
    """``read_after``, joined with a read of the same run from the same point already in flight."""
    key = (pk, after)
    pending = _inflight.get(key)
    if pending is None:
        pending = asyncio.ensure_future(_read(pk, after))
        _inflight[key] = pending
        pending.add_done_callback(lambda _: _inflight.pop(key, None))
    return await asyncio.shield(pending)  # one stream hanging up does not cancel the others' read


def _message(data: dict[str, Any], seq: int | None = None, event: str | None = None) -> str:
    lines = [] if seq is None else [f"id: {seq}"]
    if event:
        lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), allow_nan=False))
    return "\n".join(lines) + "\n\n"


async def messages(pk: int, after: int) -> AsyncIterator[str]:
    """The stream's text: the events after ``after`` as they come, heartbeats, then ``end``."""
    wakeup = await open_wakeup(pk)  # before the first read: nothing published in between is missed
    try:
        yield f"retry: {RETRY_MS}\n\n"
        sent_at = time.monotonic()
        shown: dict[str, Any] | None = None
        while True:
            answers, state, ended = await shared_read(pk, after)
            for answer in answers:
                after = answer["last_seq"]
                yield _message(answer, seq=after)
            state = {**state, "last_seq": after} if state else state
            quiet = {k: state.get(k) for k in ("status", "cancel_requested", "error", "history_rev")}
            if not answers and state and shown is not None and quiet != shown:
                yield _message(state)  # a status change with no event
            if answers or quiet != shown:
                sent_at = time.monotonic()
            shown = quiet
            if ended:
                yield _message(state or {"last_seq": after}, event="end")
                return
            if len(answers) == settings.NASBOARD_EVENTS_PAGE:
                continue  # a backlog: read on at once
            beat = settings.NASBOARD_STREAM_HEARTBEAT_SECONDS
            await wakeup.wait(max(0.01, min(wakeup.period, beat - (time.monotonic() - sent_at))))
            if time.monotonic() - sent_at >= beat:
                yield ": heartbeat\n\n"
                sent_at = time.monotonic()
    finally:
        await wakeup.close()


@csrf_exempt
async def experiment_stream(request: HttpRequest, id: int) -> HttpResponse:
    """The SSE stream of experiment ``id`` (see the module's docstring)."""
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(request, ["GET", "HEAD"])
    if not can_stream(request):
        # under WSGI (the test live server, a WSGI deployment) Django would buffer the endless stream: refuse, and
        # the page polls /events instead
        return error_response(501, "the event stream needs the ASGI server (webapp.asgi); poll "
                                   f"/api/experiments/{id}/events?after=SEQ instead")
    try:
        after = start_seq(request)
        exp = await sync_to_async(_visible, thread_sensitive=False)(request, id)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.errors)
    except Http404:
        return error_response(404, f"no experiment #{id} (or it is not yours)")
    response = StreamingHttpResponse(messages(exp.pk, after), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each message on at once
    return response
