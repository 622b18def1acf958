"""The OpenAPI description of the JSON API, kept beside the views it describes."""
from __future__ import annotations

from typing import Any

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}, "description": "message per field"},
    },
}

PROGRESS = {
    "type": "object",
    "properties": {
        "epoch": {"type": "integer", "description": "completed epochs"},
        "epochs": {"type": "integer"},
        "step": {"type": "integer"},
        "steps_per_epoch": {"type": "integer"},
        "fraction": {"type": "number"},
        "eta_seconds": {"type": ["number", "null"]},
        "best_val_acc": {"type": ["number", "null"]},
    },
}

STATUS = {"type": "string", "enum": ["queued", "running", "finished", "cancelled", "failed", "stopped_early"],
          "description": "stopped_early: DARTS-ES ended the search before its last epoch (see stop_reason)"}

EXPERIMENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "owner": {"type": "string"},
        "status": STATUS,
        "error": {"type": ["string", "null"], "description": "why the run failed"},
        "stop_reason": {"type": ["string", "null"], "description": "why the search stopped early (DARTS-ES), in plain words"},
        "cancel_requested": {"type": "boolean"},
        "config": {"type": "object", "description": "the engine config, defaults filled in"},
        "space": {"type": "string"},
        "optimizer": {"type": "string"},
        "dataset": {"type": "string"},
        "seed": {"type": "integer"},
        "device_requested": {"type": "string"},
        "device": {"type": ["string", "null"]},
        "worker": {"type": ["string", "null"]},
        "attempts": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": ["string", "null"], "format": "date-time"},
        "ended_at": {"type": ["string", "null"], "format": "date-time"},
        "progress": {"$ref": "#/components/schemas/Progress"},
        "last_seq": {"type": "integer"},
        "result": {"oneOf": [{"$ref": "#/components/schemas/Result"}, {"type": "null"}]},
    },
}

RESULT = {
    "type": "object",
    "properties": {
        "genotype": {"description": "the derived architecture (object for DARTS-like spaces, string for NAS-Bench-201)"},
        "train_acc": {"type": ["number", "null"]},
        "val_acc": {"type": ["number", "null"]},
        "best_val_acc": {"type": ["number", "null"]},
        "train_loss": {"type": ["number", "null"]},
        "val_loss": {"type": ["number", "null"]},
        "params": {"type": ["integer", "null"]},
        "arch_params": {"type": ["integer", "null"]},
        "flops": {"type": "integer", "description": "present when the engine reports FLOPs"},
        "epochs_completed": {"type": "integer"},
        "artifacts": {"type": "array", "items": {"type": "string"}},
        "returned_epoch": {"type": "integer", "description": "after an early stop: the epoch whose architecture is returned"},
        "last_genotype": {"description": "after an early stop: the architecture of the last epoch, for comparison"},
        "collapse": {"type": "object", "description": "skip connections and parameter-free ops per cell type of the "
                     "returned architecture (genotype) and of the last epoch's (last_genotype)"},
    },
}

EVENT = {
    "type": "object",
    "required": ["seq", "type", "v", "time"],
    "properties": {
        "seq": {"type": "integer", "description": "1-based, increasing; ask for events after the last one seen"},
        "type": {"type": "string", "enum": ["run_started", "step", "epoch", "arch", "genotype", "curvature", "early_stop",
                                            "regularization_change", "checkpoint", "log", "finished", "failed"],
                 "description": "curvature: {epoch, eigenvalue, trace} of the Hessian w.r.t. the architecture weights; "
                                "early_stop: DARTS-ES stopped (trigger_epoch, returned_epoch, earlier, later, ratio, window, "
                                "threshold, reason); regularization_change: DARTS-ADA went back and raised a regularization "
                                "(trigger_epoch, restored_epoch, parameter, old, new, reason); arch: kind (softmax, gumbel, "
                                "dirichlet, frequency, policy) and per-cell edges x ops; genotype: the derived cell, with "
                                "skip_connections and parameter_free counts per cell type"},
        "v": {"type": "integer", "description": "event schema version"},
        "time": {"type": "number", "description": "Unix time the worker emitted it"},
    },
    "additionalProperties": True,
}


def _id_param() -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad input, with a message per field", 401: "not authenticated", 403: "CSRF check failed (session auth)",
            404: "no such experiment (or not yours)", 409: "not possible in the experiment's current state",
            503: "the task queue cannot be reached; nothing changed"}
    return {str(c): {"description": text[c], "content": _json("Error")} for c in codes}


def schema(server: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "NASBoard API", "version": "1", "description": "Launch and watch neural architecture searches."},
        "servers": [{"url": server}] if server else [],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/experiments": {
                "get": {
                    "summary": "List your experiments (staff: all)",
                    "parameters": [
                        {"name": n, "in": "query", "required": False, "schema": {"type": t}}
                        for n, t in (("q", "string"), ("status", "string"), ("space", "string"), ("optimizer", "string"),
                                     ("dataset", "string"), ("sort", "string"), ("page", "integer"), ("per_page", "integer"))
                    ],
                    "responses": {
                        "200": {"description": "a page of experiments", "content": {"application/json": {"schema": {
                            "type": "object",
                            "properties": {"count": {"type": "integer"}, "page": {"type": "integer"}, "pages": {"type": "integer"},
                                           "results": {"type": "array", "items": {"$ref": "#/components/schemas/Experiment"}}}}}}},
                        **_errors(400, 401),
                    },
                },
                "post": {
                    "summary": "Create and queue an experiment",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["name", "config"],
                        "properties": {"name": {"type": "string", "maxLength": 200},
                                       "config": {"type": "object", "description": "engine settings; omitted ones take the engine defaults"}}}}}},
                    "responses": {"201": {"description": "created and queued", "content": _json("Experiment")}, **_errors(400, 401, 403, 503)},
                },
            },
            "/api/experiments/{id}": {
                "get": {"summary": "One experiment with its progress, config and result", "parameters": [_id_param()],
                        "responses": {"200": {"description": "the experiment", "content": _json("Experiment")}, **_errors(401, 404)}},
            },
            "/api/experiments/{id}/events": {
                "get": {
                    "summary": "The events after a sequence number, in order",
                    "parameters": [_id_param(),
                                   {"name": "after", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "default": 0}},
                                   {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}}],
                    "responses": {
                        "200": {"description": "new events; poll again with after=last_seq while status is queued or running",
                                "content": {"application/json": {"schema": {"type": "object", "properties": {
                                    "status": STATUS, "error": {"type": ["string", "null"]}, "cancel_requested": {"type": "boolean"},
                                    "stop_reason": {"type": ["string", "null"]},
                                    "progress": {"$ref": "#/components/schemas/Progress"},
                                    "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                                    "last_seq": {"type": "integer"},
                                    "more": {"type": "boolean", "description": "more events are waiting: ask again at once"},
                                    "history_rev": {"type": "integer", "description": "changes when stored events were dropped "
                                                    "(a resumed run rewound to its checkpoint): reload from after=0"}}}}}},
                        **_errors(400, 401, 404),
                    },
                },
            },
            "/api/experiments/{id}/cancel": {
                "post": {"summary": "Cancel: a queued run at once, a running one within a step", "parameters": [_id_param()],
                         "responses": {"200": {"description": "cancelled", "content": _json("Experiment")},
                                       "202": {"description": "the run will stop at its next step", "content": _json("Experiment")},
                                       **_errors(401, 403, 404, 409)}},
            },
            "/api/experiments/{id}/resume": {
                "post": {"summary": "Queue a cancelled or failed run again; it continues from its last checkpoint", "parameters": [_id_param()],
                         "responses": {"202": {"description": "queued", "content": _json("Experiment")}, **_errors(401, 403, 404, 409, 503)}},
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a token from `python manage.py create_token USER`"},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": "the dashboard's login; send X-CSRFToken on POST"},
            },
            "schemas": {"Experiment": EXPERIMENT, "Result": RESULT, "Progress": PROGRESS, "Event": EVENT, "Error": ERROR},
        },
    }
