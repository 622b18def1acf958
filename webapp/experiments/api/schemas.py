"""The API's request and answer schemas: what django-ninja validates and what the OpenAPI document shows.

Request bodies are strict (JSON types as written: ``"true"`` is no boolean) and refuse unknown fields, so a
misspelt field is an error rather than silently ignored. Answers are checked against these schemas on the way
out; an answer schema refuses fields it does not list, so the document cannot fall behind the serializers.
Event payloads are in ``api_events``.
"""
from __future__ import annotations

from typing import Annotated, Any, Callable, Literal, Optional, TypeAlias

from django.conf import settings
from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, create_model

from nascore.benchmarks import BENCHMARKS
from nascore.settings import config_json_schema
from webapp.experiments import selectors, services
from webapp.experiments.api.events import Event
from webapp.experiments.models import Kind, Status
from webapp.experiments.presenters import benchmark, exports
from webapp.experiments.services import curation, retrain, studies
from webapp.experiments.services import spaces as space_actions


class _DocumentedAs:
    """Annotation metadata: the value is read as any JSON object (the engine's one validator checks it and answers in
    its own words), and documented with the schema ``build()`` returns when the document is made, so a component
    registered later appears in it."""

    def __init__(self, build: Callable[[], dict[str, Any]]):
        self.build = build

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        return self.build()


def search_config_schema() -> dict[str, Any]:
    """A search's settings as this server takes them: the engine's models less what the server sets, with the
    server's caps on epochs and the batch size and the devices it has queues for."""
    from nascore.config import search_settings

    schema = config_json_schema(search_settings(), exclude=services.SERVER_FIELDS)
    props = schema["properties"]
    props["epochs"]["maximum"] = settings.NASBOARD_MAX_EPOCHS
    props["batch_size"]["maximum"] = settings.NASBOARD_MAX_BATCH_SIZE
    props["device"].pop("anyOf", None)  # the engine's "a choice or cuda:N": this server takes its queues' names only
    props["device"]["enum"] = list(services.DEVICES)
    _names_only(props["space"])
    return schema


def _names_only(space: dict[str, Any]) -> None:
    """The engine also takes a document's path as a space; this server takes a built-in's or a saved space's name."""
    from nascore.spaces import SAVED_NAME_PATTERN

    for option in space.get("anyOf", []):
        if "pattern" in option:
            option["pattern"] = f"^(?:{SAVED_NAME_PATTERN})$"


def retrain_config_schema() -> dict[str, Any]:
    """A retrain's stand-alone training settings as this server takes them (the space and dataset are the search's;
    null or an empty string takes the default: the search's seed and device, the engine's otherwise)."""
    from nascore.evaluation.train import eval_settings

    schema = config_json_schema(eval_settings(), exclude=retrain.SERVER_FIELDS)
    props = schema["properties"]
    props["epochs"]["maximum"] = settings.NASBOARD_MAX_EPOCHS
    props["batch_size"]["maximum"] = settings.NASBOARD_MAX_BATCH_SIZE
    props["device"].pop("anyOf", None)  # the engine's "a choice or cuda:N": this server takes its queues' names only
    props["device"]["enum"] = list(services.DEVICES)
    for name, prop in props.items():
        options = prop.pop("anyOf", None) or [{k: prop.pop(k) for k in list(prop) if k in _TYPE_KEYS}]
        prop["anyOf"] = [o for o in options if o.get("type") != "null"] + [{"type": "null"}, {"const": ""}]
    return schema


def new_study_schema() -> dict[str, Any]:
    """A new study's body: its settings (the engine's StudySettings less what the server sets, with the server's
    epoch cap and queue devices, spaces by name only) beside its optional name and parent."""
    from nascore.hpo.study import StudySettings

    schema = config_json_schema([StudySettings], exclude=studies.SERVER_FIELDS)
    props = schema["properties"]
    props["max_epochs"]["maximum"] = settings.NASBOARD_MAX_EPOCHS
    if "device" in props:
        props["device"].pop("anyOf", None)
        props["device"].pop("pattern", None)
        props["device"]["enum"] = list(services.DEVICES)
    if "space" in props:
        _names_only(props["space"])
    props["name"] = {"type": "string", "maxLength": MAX_NAME,
                     "description": "not only spaces; default: HPO PROBLEM DATASET"}
    props["parent"] = {"anyOf": [{"type": "integer"}, {"type": "null"}],
                       "description": "the id of an experiment of yours the study belongs to (e.g. the search whose "
                                      "architecture it tunes)"}
    return schema


_TYPE_KEYS = ("type", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
              "pattern")

#: the engine settings a new search takes (omitted ones take the engine's defaults), documented from the settings
#: models; this is the one place that says so
ConfigBody: TypeAlias = Annotated[dict[str, Any], _DocumentedAs(search_config_schema)]
#: a retrain's stand-alone training settings, the same way
RetrainConfigBody: TypeAlias = Annotated[dict[str, Any], _DocumentedAs(retrain_config_schema)]

MAX_NAME = 200
MAX_PER_PAGE = 100

StatusName = Literal[tuple(Status.values)]  # type: ignore[valid-type]
KindName = Literal[tuple(Kind.values)]  # type: ignore[valid-type]
DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Tag = Annotated[str, Field(max_length=curation.MAX_TAG_LENGTH)]


def _omittable(description: str = "") -> Any:
    """A field that may be left out (an answer leaves it out in some cases); null is not a value of it."""
    return Field(None, description=description or None, json_schema_extra=lambda schema: schema.pop("default", None))


class Error(BaseModel):
    """Every error answer: a message, and for bad input a message per field (``body`` for the body as a whole)."""

    error: str
    errors: dict[str, str] = _omittable("a message per field path, e.g. name, epochs, tags.0")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NewExperiment(_Body):
    name: str = Field(min_length=1, max_length=MAX_NAME, description="not only spaces")
    config: ConfigBody = Field(default_factory=dict, description="engine settings; omitted ones take the engine's "
                                                                 "defaults (a server may cap epochs and batch size)")


class RetrainRequest(_Body):
    name: Optional[str] = Field(None, max_length=MAX_NAME, description="default: retrain of #ID NAME")
    config: RetrainConfigBody = Field(
        default_factory=dict, description="stand-alone training settings (epochs, channels, layers, batch_size, seed, "
        "device, lr, lr_min, momentum, weight_decay, grad_clip, auxiliary, auxiliary_weight, drop_path, augment, "
        "steps_per_epoch); omitted ones take the engine's defaults, seed and device the search's")


class NewStudy(BaseModel):
    """The body is read as any JSON object: the engine's one validator checks the settings and answers in its own
    words (every problem at once); it is documented as ``new_study_schema`` says."""

    model_config = ConfigDict(extra="allow")

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        return new_study_schema()

    def parts(self) -> tuple[dict[str, Any], Any, Any]:
        """The settings, the name and the parent."""
        raw = dict(self.model_extra or {})
        return raw, raw.pop("name", ""), raw.pop("parent", None)


class Curation(_Body):
    """All changes are checked first and applied together, or none is."""

    starred: bool = _omittable()
    is_baseline: bool = _omittable("a reference run others are compared to")
    archived: bool = _omittable("hidden from lists unless archived=include or only")
    notes: str = _omittable("Markdown")
    tags: list[Tag] = _omittable("the whole list of tags (not with add_tags or remove_tags)")
    add_tags: list[Tag] = _omittable()
    remove_tags: list[Tag] = _omittable("each must be a tag of the experiment")


class ListFilters(Schema):
    """The list filters, shared by the list and its exports."""

    q: str = Field("", description="name, #id, space, optimizer or dataset (staff: also owner)")
    status: Literal[("", *Status.values)] = ""  # type: ignore[valid-type]
    space: str = ""
    optimizer: str = ""
    dataset: str = ""
    kind: Literal[("", *Kind.values)] = ""  # type: ignore[valid-type]
    tag: str = Field("", description="experiments carrying this tag")
    starred: bool = Field(False, description="true: starred ones only")
    baseline: bool = Field(False, description="true: baselines only")
    archived: Literal[tuple(selectors.ARCHIVED_CHOICES)] = Field(  # type: ignore[valid-type]
        "", description="archived experiments are hidden unless include or only")
    sort: Literal[tuple(selectors.SORTS)] = "-created"  # type: ignore[valid-type]

    def params(self) -> dict[str, str]:
        """The filters as the list page's query parameters (what ``selectors.list_filters_from`` reads)."""
        values = self.model_dump(include=set(ListFilters.model_fields))
        return {k: ("1" if v else "") if isinstance(v, bool) else v for k, v in values.items()}


class ListPage(ListFilters):
    page: int = Field(1, ge=1, description="past the last page: the last page")
    per_page: int = Field(20, ge=1, le=MAX_PER_PAGE)


class BenchmarkQuery(Schema):
    dataset: Literal[tuple(sorted({d for spec in BENCHMARKS.values() for d in spec.datasets}))] = Field(  # type: ignore
        benchmark.FALLBACK_DATASET, description="one the space's benchmark covers")
    arch: list[str] = Field([], max_length=benchmark.MAX_LOOKUP, description="cells of the space, e.g. NAS-Bench-201 "
                                                                             "strings")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Progress(_Answer):
    epoch: int = Field(description="completed epochs")
    epochs: int
    step: int
    steps_per_epoch: int
    fraction: float
    eta_seconds: Optional[float]
    best_val_acc: Optional[float]


class LiveProgress(Progress):
    """The progress the live page polls for, with its line in words."""

    text: str = Field(description="the progress line in words (presenters/progress.py)")


class RetrainSummary(_Answer):
    id: int
    name: str
    status: StatusName
    test_acc: Optional[float]


class Result(_Answer):
    genotype: Any = Field(description="the derived architecture (object for DARTS-like spaces, string for NAS-Bench-201)")
    genotype_text: str = Field(description="the architecture as one line to copy: DARTS's Genotype(normal=[...], "
                                           "normal_concat=[...], ...) for pairs, NAS-Bench-201's string, or a "
                                           "document space's edge ops; empty when there is none")
    train_acc: Optional[float]
    val_acc: Optional[float]
    best_val_acc: Optional[float]
    train_loss: Optional[float]
    val_loss: Optional[float]
    params: Optional[int]
    arch_params: Optional[int]
    test_acc: Optional[float] = Field(description="a retrain's accuracy on the held-out test set (final epoch); null "
                                                  "for a search, which never sees the test set")
    epochs_completed: int
    artifacts: list[str]
    flops: int = _omittable("present when the engine reports FLOPs")
    returned_epoch: int = _omittable("after an early stop: the epoch whose architecture is returned")
    last_genotype: Any = _omittable("after an early stop: the architecture of the last epoch, for comparison")
    collapse: dict[str, Any] = _omittable("skip connections and parameter-free ops per cell type of the returned "
                                          "architecture (genotype) and of the last epoch's (last_genotype)")
    selection: dict[str, Any] = _omittable(
        "the selection stage after the search: candidates (genotype, source, oneshot_val_acc, oneshot_val_loss, "
        "oneshot_rank, retrained, standalone_val_acc, standalone_val_loss), top_k, epochs, kendall_tau, spearman "
        "(null when undefined), chosen (a candidate index) and status; when it finished, genotype is the chosen one")
    search_genotype: Any = _omittable("with a selection stage: the architecture the search itself derived")


class ExperimentSummary(_Answer):
    """An experiment as lists show it (no result, no retrains)."""

    id: int
    name: str
    owner: str
    kind: KindName = Field(description="retrain: the stand-alone training of a search's architecture")
    parent: Optional[int] = Field(description="for a retrain: the id of the search it came from")
    status: StatusName = Field(description="stopped_early: DARTS-ES ended the search before its last epoch")
    error: Optional[str] = Field(description="why the run failed")
    stop_reason: Optional[str] = Field(description="why the search stopped early (DARTS-ES), in plain words")
    cancel_requested: bool
    config: dict[str, Any] = Field(description="the engine config, defaults filled in")
    space: str
    optimizer: str
    dataset: str
    seed: int
    device_requested: str
    device: Optional[str]
    worker: Optional[str]
    attempts: int
    created_at: DateTime
    started_at: Optional[DateTime]
    ended_at: Optional[DateTime]
    progress: Progress
    last_seq: int
    starred: bool
    is_baseline: bool = Field(description="a reference run others are compared to")
    archived: bool
    notes: str = Field(description="free text, Markdown")
    notes_html: str = Field(description="the notes rendered as safe HTML (escaped first; no raw HTML, only http(s), "
                                        "mailto and relative links)")
    tags: list[str]


class Experiment(ExperimentSummary):
    """One experiment with its retrains and result."""

    retrains: list[RetrainSummary] = Field(description="a search's retrains, oldest first")
    result: Optional[Result]


class ExperimentPage(_Answer):
    count: int
    page: int
    pages: int
    results: list[ExperimentSummary]


class EventPage(_Answer):
    status: StatusName
    error: Optional[str]
    stop_reason: Optional[str]
    cancel_requested: bool
    progress: LiveProgress
    events: list[Event]
    last_seq: int
    more: bool = Field(description="more events are waiting: ask again at once")
    history_rev: int = Field(description="changes when stored events were dropped (a resumed run rewound to its "
                                         "checkpoint): reload from after=0")
    curvature_summary: str = _omittable("the curvature section's line in words, when this page has curvature, "
                                        "early-stop or regularization-change events")
    selection_summary: str = _omittable("the selection section's line in words, when this page has the stage's "
                                        "done event")
    selection_title: str = _omittable("the selection plot's title, when this page has the stage's done event")
    blackbox_title: str = _omittable("the regret plot's title, when this page has query events")
    blackbox_summary: str = _omittable("the regret plot's line in words (over the events up to this page's last), "
                                       "when this page has query events")


class Tags(_Answer):
    tags: list[str]


ExportRow = create_model("ExportRow", __base__=_Answer, __doc__="One experiment as a flat row (CSV: lists as a;b, "
                         "structures as JSON)", **{column: (Any, ...) for column in exports.COLUMNS})


class Export(_Answer):
    columns: list[str]
    count: int
    experiments: list[ExportRow]  # type: ignore[valid-type]
    filters: dict[str, Any] = Field(description="the filters applied")
    exported_at: DateTime


class CellFigures(_Answer):
    arch: str
    dataset: str
    valid_acc: Optional[float] = Field(description="percent")
    test_acc: Optional[float] = Field(description="percent")
    valid_loss: Optional[float]
    test_loss: Optional[float]
    train_acc: Optional[float] = Field(description="percent")
    train_time: Optional[float] = Field(description="seconds")
    text: str = Field(description="the two accuracies as the pages word them")


class Optimum(_Answer):
    arch: str
    valid_acc: float
    test_acc: float


class BenchmarkFigures(_Answer):
    space: str
    dataset: str
    available: bool = Field(description="false (with problem) when no table is imported on this server")
    archs: dict[str, Optional[CellFigures]] = Field(description="the figures of each valid cell asked for")
    errors: dict[str, str] = Field(description="why each string asked for is no cell of the space")
    optimum: Optimum = _omittable("the table's best cell by validation accuracy (when available)")
    problem: str = _omittable("why no figures are available")


# ---- search spaces ------------------------------------------------------------------------------------------------
SpaceEdge = create_model("SpaceEdge", __base__=_Answer, __doc__="One edge of a cell: its nodes and candidate ops",
                         **{"from": (int, ...), "to": (int, ...), "ops": (list[str], ...)})


class SpaceCell(_Answer):
    inputs: list[int] = Field(description="the input nodes (earlier cells' outputs)")
    nodes: list[int] = Field(description="the intermediate nodes, in the order they are computed")
    output: int | list[int] = Field(description="one node, or the nodes whose concatenation the cell outputs")
    edges: int = Field(description="how many edges")
    reduction: bool
    edge_list: list[SpaceEdge]  # type: ignore[valid-type]


class SpaceRule(_Answer):
    kind: Literal["inputs_per_node", "one_op_per_edge"]
    inputs: int
    exclude: list[str]


class SpacePosition(_Answer):
    kind: Literal["cell", "block"]
    reduction: bool = Field(description="the resolution halves here")
    cell_type: str = _omittable("a cell's type")
    block: str = _omittable("a fixed block's kind (residual_block)")


class SpaceMacro(_Answer):
    skeleton: Literal["cells", "stages"]
    positions: list[SpacePosition] = Field(description="the skeleton's cells and blocks in order, stem and head left out")


class SpaceSize(_Answer):
    channels: int
    layers: int
    in_channels: int
    num_classes: int


class SpaceSummary(_Answer):
    """A space in numbers at a size (what ``python -m nascore space check`` prints)."""

    name: str
    title: str
    ops: list[str]
    cell_types: dict[str, SpaceCell]
    rule: SpaceRule
    genotype_notation: str
    macro: SpaceMacro
    architecture_parameters: int
    architectures: str = Field(description="how many architectures the rule allows (a decimal string: it may exceed "
                                           "any JSON number)")
    architectures_log10: Optional[float]
    size: SpaceSize
    supernet_parameters: int = Field(description="parameters of the supernet at this size")
    published: list[str] = Field(description="names of the published architectures the document holds")


class SpaceVersion(_Answer):
    version: int
    reference: str = Field(description="how a config names this version: name@version")
    created_at: DateTime
    experiments: int = Field(description="experiments you can see that use this version")


class SpaceItem(_Answer):
    """A space as the list shows it."""

    name: str
    title: str
    builtin: bool
    owner: Optional[str] = Field(description="null for a built-in")
    version: Optional[int] = Field(description="the latest version (null for a built-in)")
    versions: int = Field(description="how many versions (1 for a built-in)")
    ops: int
    cell_types: int
    architectures: str = Field(description="how many architectures (a decimal string)")
    experiments: int = Field(description="experiments you can see that use any version")


class SpaceList(_Answer):
    builtins: list[SpaceItem]
    saved: list[SpaceItem]


class Space(_Answer):
    """One space (a built-in, or one version of a saved space) with its document and its summary."""

    name: str
    title: str
    builtin: bool
    version: Optional[int] = Field(description="the version shown (null for a built-in)")
    reference: str = Field(description="how a config names it: a built-in's name, or name@version")
    owner: Optional[str]
    created_at: Optional[DateTime]
    document: str = Field(description="the document as written (a built-in's exported as YAML)")
    summary: SpaceSummary = Field(description="the space at its default size")
    versions: list[SpaceVersion] = Field(description="every version, newest first (empty for a built-in)")


class SpaceDocumentBody(_Body):
    document: str = Field(min_length=1, max_length=space_actions.MAX_DOCUMENT, description="a space document, YAML or JSON text")


class SpaceCheckBody(SpaceDocumentBody):
    channels: Optional[int] = Field(None, ge=1, le=space_actions.MAX_CHANNELS, description="the size the summary is counted at (default: "
                                                                    "the document's)")
    layers: Optional[int] = Field(None, ge=1, le=space_actions.MAX_LAYERS)


class SpaceCheck(_Answer):
    valid: bool = Field(description="the document is a valid space (and the size fits)")
    problems: dict[str, str] = Field(description="every problem, by its place in the document (cells.normal.edges[3], "
                                                 "rule.inputs, ...) or the size (channels, layers)")
    summary: Optional[SpaceSummary] = Field(description="for a valid document: the space at the size asked for")


# ---- HPO studies -------------------------------------------------------------------------------------------------
class StudyListQuery(Schema):
    status: Literal[("", *Status.values)] = ""  # type: ignore[valid-type]
    page: int = Field(1, ge=1, description="past the last page: the last page")
    per_page: int = Field(20, ge=1, le=MAX_PER_PAGE)


class StudySummary(_Answer):
    """A study as lists show it (from the experiment's row: no trial is read)."""

    id: int
    name: str
    owner: str
    parent: Optional[int] = Field(description="the experiment the study belongs to, if any")
    status: StatusName
    error: Optional[str] = Field(description="why the study failed")
    cancel_requested: bool
    problem: str
    dataset: str
    sampler: str
    pruner: str
    trials: int = Field(description="how many trials the study runs")
    trials_done: int = Field(description="trials ended (complete, pruned or failed)")
    best_value: Optional[float] = Field(description="the best complete trial's validation accuracy (a fraction)")
    last_value: Optional[float] = Field(description="the last ended trial's value")
    progress: Progress = Field(description="epoch and epochs count trials here")
    worker: Optional[str] = Field(description="the worker that took the latest trial")
    created_at: DateTime
    started_at: Optional[DateTime]
    ended_at: Optional[DateTime]
    starred: bool
    archived: bool
    tags: list[str]


class StudyStates(_Answer):
    complete: int
    pruned: int
    failed: int
    running: int
    waiting: int = Field(description="lost trials queued for their retry")


class StudyLinks(_Answer):
    api: str = Field(description="this study in the API")
    trials: str
    experiment: str = Field(description="the study as an experiment (curation, the generic API)")
    page: str


class Study(StudySummary):
    """One study, with what its trials say now."""

    settings: dict[str, Any] = Field(description="the study's settings, defaults filled in")
    best_params: Optional[dict[str, Any]]
    best_trial: Optional[int]
    best_test_acc: Optional[float] = Field(description="the best trial's test accuracy (never optimised on)")
    states: StudyStates
    epochs: int = Field(description="epochs run by all trials together")
    links: StudyLinks
    baselines: dict[str, Any] = _omittable("once ended: the problem's reference models on the same split")
    final: dict[str, Any] = _omittable("once ended, for problems that have one: what a final training of the best "
                                       "trial needs")


class StudyPage(_Answer):
    count: int
    page: int
    pages: int
    results: list[StudySummary]


class StudyTrial(_Answer):
    number: int
    state: Literal["complete", "pruned", "failed", "running", "waiting"]
    value: Optional[float] = Field(description="validation accuracy: the final one, or a pruned trial's last report")
    params: dict[str, Any]
    epochs: int = Field(description="epochs the trial ran")
    intermediate_values: dict[str, float] = Field(description="validation accuracy by epoch")
    test_acc: Optional[float]
    error: Optional[str] = Field(description="why a failed trial failed")
    retry_of: Optional[int] = Field(description="the lost trial this one retries (same parameters)")
    worker: Optional[str] = Field(description="the Celery worker that ran it")
    started_at: Optional[DateTime]
    completed_at: Optional[DateTime]


class StudyTrials(_Answer):
    id: int
    status: StatusName
    trials: list[StudyTrial]
