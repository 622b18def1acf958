"""The space document's schema (the pydantic models of a ``nasboard-space/1`` document) and the plain facts read
from a parsed document (op names, each cell's edge rows and candidates, where reductions sit, the fewest layers, the
size problems). :mod:`nascore.spaces.document` checks documents with them and re-exports them;
:mod:`nascore.spaces.document_space` builds spaces from them (so neither imports the other's module back)."""
from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

FORMAT = "nasboard-space/1"


#: a space's name: what configs, URLs and files call it
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


class DocumentError(ValueError):
    """A document that is not a valid space; ``problems`` maps each place in the document to what is wrong."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{where}: {msg}" for where, msg in problems.items()))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FamilyOp(_Strict):
    """An op of a family, named by its kernel: ``{family: sep_conv, kernel: 9}`` is ``sep_conv_9x9``."""

    family: str = Field(description="An op family (sep_conv, dil_conv, nor_conv, avg_pool, max_pool).")
    kernel: int = Field(ge=1, description="Odd kernel size.")


OpEntry = Union[str, FamilyOp]


class EdgeDoc(_Strict):
    """One edge: its source and target nodes and, where they differ from the cell's, its candidate ops."""

    source: int = Field(alias="from")
    target: int = Field(alias="to")
    ops: list[OpEntry] | None = None


class OutputDoc(_Strict):
    """What the cell outputs: the concatenation of some nodes, or one node."""

    concat: list[int] | None = None
    node: int | None = None


class CellDoc(_Strict):
    """One cell type's graph."""

    inputs: list[int] = Field(min_length=1, description="The input nodes (the outputs of earlier cells).")
    nodes: list[int] = Field(min_length=1, description="The intermediate nodes, in the order they are computed.")
    edges: Literal["dense"] | list[EdgeDoc] = Field(
        "dense", description="dense: an edge from every earlier node (inputs first) into every intermediate node, "
                             "by target then source; or a list of edges in weight-row order.")
    ops: list[OpEntry] | None = Field(None, description="Candidate ops on every edge (default: all the space's ops).")
    edge_ops: list[list[OpEntry]] | None = Field(None, description="Candidate ops per edge row (dense edges).")
    combine: Literal["sum"] = Field("sum", description="How a node combines its incoming edges.")
    reduction: bool = Field(False, description="Edges leaving the inputs halve the resolution (stride 2).")
    output: OutputDoc


class RuleDoc(_Strict):
    """How weights become an architecture, and what one architecture of the space is."""

    kind: Literal["inputs_per_node", "one_op_per_edge"]
    inputs: int = Field(2, ge=1, description="inputs_per_node: how many incoming edges each node keeps.")
    exclude: list[str] = Field(default_factory=list, description="Ops never kept (DARTS: none).")


class CellsMacro(_Strict):
    """DARTS's skeleton: a stem, ``layers`` cells each fed by the two previous ones, reduction cells at fractions
    of the depth doubling the channels, global pooling and a linear classifier."""

    skeleton: Literal["cells"]
    stem_multiplier: int = Field(3, ge=1, description="The stem's channels as a multiple of the initial channels.")
    normal_cell: str
    reduction_cell: str | None = None
    reductions_at: list[str] = Field(default_factory=lambda: ["1/3", "2/3"],
                                     description="Where reduction cells sit, as fractions of the number of cells.")
    channel_growth: int = Field(2, ge=1, description="Channel factor at each reduction.")
    head: Literal["pool_linear"] = "pool_linear"
    search_pool_bn: bool = Field(True, description="A BN after pooling ops in the supernet (DARTS).")

    @field_validator("reductions_at", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value


class StagesMacro(_Strict):
    """NAS-Bench-201's skeleton: a stem, ``stages`` stages of ``layers`` cells each, a residual block halving the
    resolution between stages, BN-ReLU, global pooling and a linear classifier."""

    skeleton: Literal["stages"]
    cell: str
    stages: int = Field(3, ge=1)
    channel_growth: int = Field(2, ge=1)
    between_stages: Literal["residual_block"] = "residual_block"
    head: Literal["bn_relu_pool_linear"] = "bn_relu_pool_linear"
    search_pool_bn: bool = Field(False, description="A BN after pooling ops in the supernet.")


Macro = Annotated[Union[CellsMacro, StagesMacro], Field(discriminator="skeleton")]


class SizeDoc(_Strict):
    channels: int = Field(16, ge=1)
    layers: int = Field(8, ge=1)


class SpaceDocument(_Strict):
    """The whole document."""

    format: Literal["nasboard-space/1"] = FORMAT
    name: str = Field(pattern=NAME_PATTERN)
    title: str = Field("", max_length=200)
    description: str = Field("", max_length=4000)
    ops: list[OpEntry] = Field(min_length=1)
    cells: dict[str, CellDoc] = Field(min_length=1)
    rule: RuleDoc
    genotype: Literal["pairs", "edge_ops", "nb201_string"] | None = None
    macro: Macro
    defaults: SizeDoc = Field(default_factory=SizeDoc)
    published: dict[str, Any] = Field(default_factory=dict)


def op_name(entry: OpEntry) -> str:
    from nascore.ops import OP_FAMILIES

    if isinstance(entry, str):
        return entry
    family = OP_FAMILIES.get(entry.family)
    return family.name(entry.kernel) if family else f"{entry.family}_{entry.kernel}x{entry.kernel}"


def reduction_positions(fractions: list[Fraction], layers: int) -> list[int]:
    """Where the reduction cells sit among ``layers`` cells (DARTS: ``layers // 3`` and ``2 * layers // 3``)."""
    return [int(f * layers) for f in fractions]


def parse_fraction(text: str) -> Fraction | None:
    try:
        value = Fraction(text).limit_denominator(1000)
    except (ValueError, ZeroDivisionError):
        return None
    return value if 0 < value < 1 else None


def cell_edges(cell: CellDoc) -> list[tuple[int, int]]:
    """(source, target) of each edge row of a cell document."""
    if cell.edges == "dense":
        earlier = list(cell.inputs)
        out = []
        for node in cell.nodes:
            out += [(src, node) for src in earlier]
            earlier.append(node)
        return out
    return [(e.source, e.target) for e in cell.edges]


def cell_candidates(doc: SpaceDocument, cell: CellDoc) -> list[list[str]]:
    """The candidate op names of each edge row."""
    rows = cell_edges(cell)
    default = [op_name(o) for o in (cell.ops or doc.ops)]
    if cell.edge_ops is not None:
        return [[op_name(o) for o in ops] for ops in cell.edge_ops]
    if cell.edges != "dense":
        return [[op_name(o) for o in e.ops] if e.ops is not None else list(default) for e in cell.edges]
    return [list(default) for _ in rows]


def min_layers(doc: SpaceDocument) -> int:
    """The fewest cells the skeleton can be built with (DARTS: 3, so that a normal cell comes before the
    reductions at 1/3 and 2/3)."""
    macro = doc.macro
    if not isinstance(macro, CellsMacro) or not macro.reductions_at:
        return 1
    fractions = [parse_fraction(t) for t in macro.reductions_at]
    if any(f is None for f in fractions):
        return 1
    for layers in range(1, 1000):
        positions = reduction_positions(fractions, layers)  # type: ignore[arg-type]
        if len(set(positions)) == len(positions) and len(positions) < layers and 0 not in positions:
            return layers
    return 1000


def size_problems(doc: SpaceDocument, channels: int | None, layers: int | None,
                  image_size: int | None = None) -> dict[str, str]:
    """Whether the network can be built at this size: enough cells for the reductions, and an image that the
    reductions do not shrink below one pixel."""
    out: dict[str, str] = {}
    fewest = min_layers(doc)
    if layers is not None and layers < fewest:
        out["layers"] = f"the {doc.name} space needs at least {fewest} layers, not {layers}"
    if channels is not None and channels < 1:
        out["channels"] = "channels must be at least 1"
    if image_size is not None:
        macro = doc.macro
        halvings = len(macro.reductions_at) if isinstance(macro, CellsMacro) else macro.stages - 1
        if image_size >> halvings < 1:
            out["image_size"] = (f"the skeleton halves the resolution {halvings} times: an image of {image_size} "
                                 f"pixels would shrink below one pixel")
    return out
