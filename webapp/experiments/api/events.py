"""The events API's payloads, one schema per engine event, made from the engine's own event dataclasses.

Deriving them (rather than writing them out) keeps the OpenAPI document from drifting from what workers emit:
a new event type or field in ``nascore`` shows up here by itself. What the API serves is what the database sink
stored: the engine's payload with ``seq``, ``type``, ``v`` and ``time``, every field present, and non-finite
numbers (a diverged loss) as null, plus the log line a person reads (``text``).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model

from nascore import events as engine
from nascore.evaluation import train as _retrain_events  # noqa: F401  (defines eval_epoch, a retrain's epoch)


class EventBase(BaseModel):
    """What every stored event carries; the engine may add fields in later versions."""

    model_config = ConfigDict(extra="allow")

    seq: int = Field(description="1-based, increasing; ask for events after the last one seen")
    v: int = Field(description="event schema version")
    time: float = Field(description="Unix time the worker emitted it")
    text: str = Field(None, description="the event log's line for it, in words (built by the server, "
                                        "webapp.experiments.presenters.events); in the events API's answers, not in "
                                        "the stored history (events.jsonl)")


def event_classes() -> list[type[engine.Event]]:
    """Every event the engine defines, in definition order."""
    found: list[type[engine.Event]] = []
    pending = list(engine.Event.__subclasses__())
    while pending:
        cls = pending.pop(0)
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _stored(hint: Any) -> Any:
    """A field's type as stored: a float may have been NaN or infinite, which the sink stores as null."""
    if hint is float:
        return float | None
    if typing.get_origin(hint) in (Union, types.UnionType) and float in typing.get_args(hint):
        return hint if type(None) in typing.get_args(hint) else hint | None
    return hint


def _description(cls: type) -> str | None:
    doc = (cls.__doc__ or "").strip()
    return None if not doc or doc.startswith(f"{cls.__name__}(") else doc  # a dataclass's generated signature


def payload_schema(cls: type[engine.Event]) -> type[EventBase]:
    """The stored payload of one engine event class, as a schema named after it (``QueryEvent``)."""
    hints = typing.get_type_hints(cls)
    kind = next(f.default for f in dataclasses.fields(cls) if f.name == "type")
    fields: dict[str, Any] = {"type": (Literal[kind], ...)}
    fields.update({f.name: (_stored(hints[f.name]), ...) for f in dataclasses.fields(cls) if f.name != "type"})
    return create_model(f"{cls.__name__}Event", __base__=EventBase, __doc__=_description(cls), **fields)


EVENT_SCHEMAS: tuple[type[EventBase], ...] = tuple(payload_schema(cls) for cls in event_classes())


class Event(RootModel[Annotated[Union[EVENT_SCHEMAS], Field(discriminator="type")]]):  # type: ignore[valid-type]
    """One event of a run; ``type`` says which of the engine's events it is and so which fields it has."""
