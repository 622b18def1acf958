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
        "kind": {"type": "string", "enum": ["search", "retrain"],
                 "description": "retrain: the stand-alone training of a search's architecture (parent is the search)"},
        "parent": {"type": ["integer", "null"], "description": "for a retrain: the id of the search it came from"},
        "starred": {"type": "boolean"},
        "is_baseline": {"type": "boolean", "description": "a reference run others are compared to"},
        "archived": {"type": "boolean", "description": "hidden from lists unless archived=include or only"},
        "notes": {"type": "string", "description": "free text, Markdown"},
        "notes_html": {"type": "string", "description": "the notes rendered as safe HTML (escaped first; no raw HTML, "
                                                        "only http(s), mailto and relative links)"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "retrains": {"type": "array", "description": "a search's retrains (only on single-experiment answers)",
                     "items": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                                                "status": STATUS, "test_acc": {"type": ["number", "null"]}}}},
        "result": {"oneOf": [{"$ref": "#/components/schemas/Result"}, {"type": "null"}]},
    },
}

CURATION = {
    "type": "object",
    "additionalProperties": False,
    "description": "all changes are checked first and applied together, or none is",
    "properties": {
        "starred": {"type": "boolean"},
        "is_baseline": {"type": "boolean"},
        "archived": {"type": "boolean"},
        "notes": {"type": "string", "maxLength": 20000, "description": "Markdown"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 50}, "description": "the whole list of tags"},
        "add_tags": {"type": "array", "items": {"type": "string", "maxLength": 50}},
        "remove_tags": {"type": "array", "items": {"type": "string", "maxLength": 50},
                        "description": "each must be a tag of the experiment"},
    },
}

RETRAIN_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 200, "description": "default: retrain of #ID NAME"},
        "config": {"type": "object", "description": "stand-alone training settings (epochs, channels, layers, batch_size, "
                   "seed, device, lr, lr_min, momentum, weight_decay, grad_clip, auxiliary, auxiliary_weight, drop_path, "
                   "augment, steps_per_epoch); omitted ones take the engine's defaults, seed and device the search's"},
    },
}

#: the list filters, shared by the list and its exports
LIST_FILTERS = [
    {"name": n, "in": "query", "required": False, "schema": schema_, "description": d}
    for n, schema_, d in (
        ("q", {"type": "string"}, "name, #id, space, optimizer or dataset"),
        ("status", {"type": "string"}, ""), ("space", {"type": "string"}, ""), ("optimizer", {"type": "string"}, ""),
        ("dataset", {"type": "string"}, ""),
        ("kind", {"type": "string", "enum": ["search", "retrain"]}, ""),
        ("tag", {"type": "string"}, "experiments carrying this tag"),
        ("starred", {"type": "string", "enum": ["1"]}, "starred ones only"),
        ("baseline", {"type": "string", "enum": ["1"]}, "baselines only"),
        ("archived", {"type": "string", "enum": ["", "include", "only"]}, "archived experiments are hidden unless include or only"),
        ("sort", {"type": "string"}, "created, -created, name, -name, status, -status, acc, -acc, started, -started"),
    )
]

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
        "test_acc": {"type": ["number", "null"], "description": "a retrain's accuracy on the held-out test set (final epoch); "
                     "null for a search, which never sees the test set"},
        "returned_epoch": {"type": "integer", "description": "after an early stop: the epoch whose architecture is returned"},
        "last_genotype": {"description": "after an early stop: the architecture of the last epoch, for comparison"},
        "collapse": {"type": "object", "description": "skip connections and parameter-free ops per cell type of the "
                     "returned architecture (genotype) and of the last epoch's (last_genotype)"},
        "selection": {"type": "object", "description": "the selection stage after the search: candidates (genotype, "
                      "source, oneshot_val_acc, oneshot_val_loss, oneshot_rank, retrained, standalone_val_acc, "
                      "standalone_val_loss), top_k, epochs, kendall_tau, spearman (null when undefined), chosen (a "
                      "candidate index) and status; when it finished, genotype is the chosen one"},
        "search_genotype": {"description": "with a selection stage: the architecture the search itself derived"},
    },
}

EVENT = {
    "type": "object",
    "required": ["seq", "type", "v", "time"],
    "properties": {
        "seq": {"type": "integer", "description": "1-based, increasing; ask for events after the last one seen"},
        "type": {"type": "string", "enum": ["run_started", "step", "epoch", "arch", "genotype", "curvature", "early_stop",
                                            "regularization_change", "checkpoint", "log", "finished", "failed", "eval_epoch",
                                            "selection"],
                 "description": "curvature: {epoch, eigenvalue, trace} of the Hessian w.r.t. the architecture weights; "
                                "early_stop: DARTS-ES stopped (trigger_epoch, returned_epoch, earlier, later, ratio, window, "
                                "threshold, reason); regularization_change: DARTS-ADA went back and raised a regularization "
                                "(trigger_epoch, restored_epoch, parameter, old, new, reason); arch: kind (softmax, gumbel, "
                                "dirichlet, frequency, policy) and per-cell edges x ops; genotype: the derived cell, with "
                                "skip_connections and parameter_free counts per cell type; eval_epoch: one epoch of a retrain (train_loss, "
                                "train_acc, test_loss, test_acc, lr, drop_path, seconds); selection: the stage "
                                "choosing the final architecture after a search (phase start, rank, retrain or done; "
                                "done and total units of work; the candidate it is about; at done the candidates, "
                                "kendall_tau, spearman, chosen and genotype)"},
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
                    "parameters": LIST_FILTERS + [
                        {"name": n, "in": "query", "required": False, "schema": {"type": "integer"}} for n in ("page", "per_page")
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
                "patch": {"summary": "Curate: star, baseline, archive, notes, tags (the owner or staff)", "parameters": [_id_param()],
                          "requestBody": {"required": True, "content": _json("Curation")},
                          "responses": {"200": {"description": "the curated experiment", "content": _json("Experiment")},
                                        **_errors(400, 401, 403, 404)}},
            },
            "/api/experiments/{id}/retrain": {
                "post": {"summary": "Queue the stand-alone training of a finished search's architecture as a new experiment "
                                    "(kind retrain, parent the search, owned by the search's owner)",
                         "parameters": [_id_param()],
                         "requestBody": {"required": False, "content": _json("RetrainRequest")},
                         "responses": {"201": {"description": "created and queued", "content": _json("Experiment")},
                                       **_errors(400, 401, 403, 404, 409, 503)}},
            },
            "/api/experiments/{id}/events.jsonl": {
                "get": {"summary": "The experiment's full event history, streamed as JSON Lines (one event per line, in order)",
                        "parameters": [_id_param()],
                        "responses": {"200": {"description": "one Event object per line",
                                              "content": {"application/x-ndjson": {"schema": {"$ref": "#/components/schemas/Event"}}}},
                                      **_errors(401, 404)}},
            },
            "/api/experiments/export.{format}": {
                "get": {"summary": "Every experiment the list filters select (not one page), as CSV or JSON",
                        "parameters": [{"name": "format", "in": "path", "required": True, "schema": {"type": "string", "enum": ["csv", "json"]}},
                                       *LIST_FILTERS],
                        "responses": {"200": {"description": "a header line then one row per experiment (csv), or "
                                                             "{columns, count, experiments, filters, exported_at} (json)",
                                              "content": {"text/csv": {"schema": {"type": "string"}},
                                                          "application/json": {"schema": {"type": "object"}}}},
                                      **_errors(400, 401)}},
            },
            "/api/tags": {
                "get": {"summary": "The tag names in use on the experiments you see",
                        "responses": {"200": {"description": "tags", "content": {"application/json": {"schema": {
                            "type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}}}}},
                            **_errors(401)}},
            },
            "/api/benchmark/{space}": {
                "get": {"summary": "Tabular-benchmark figures (NAS-Bench-201) of up to 200 cells; validation and test apart",
                        "parameters": [{"name": "space", "in": "path", "required": True, "schema": {"type": "string",
                                                                                                    "enum": ["nb201"]}},
                                       {"name": "dataset", "in": "query", "required": False,
                                        "schema": {"type": "string", "default": "cifar10"}},
                                       {"name": "arch", "in": "query", "required": False, "explode": True,
                                        "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 200}}],
                        "responses": {"200": {"description": "figures per cell (percent accuracies, seconds); `available` "
                                                             "is false, with `problem`, when no table is imported",
                                              "content": {"application/json": {"schema": {"type": "object", "properties": {
                                                  "available": {"type": "boolean"}, "dataset": {"type": "string"},
                                                  "archs": {"type": "object"}, "errors": {"type": "object"},
                                                  "optimum": {"type": "object"}, "problem": {"type": "string"}}}}}},
                                      **_errors(400, 401, 404)}},
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
            "schemas": {"Experiment": EXPERIMENT, "Result": RESULT, "Progress": PROGRESS, "Event": EVENT, "Error": ERROR,
                        "Curation": CURATION, "RetrainRequest": RETRAIN_REQUEST},
        },
    }
