"""The NAS-Bench-201 cell space (Dong and Yang, ICLR 2020), written in ``documents/nb201.yaml``; this module gives
the benchmark code its constants and its string form: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
from __future__ import annotations

from nascore.spaces import SPACES
from nascore.spaces.genotypes import NOTATIONS, NB201String

NB201 = SPACES["nb201"]
NB201_OPS = NB201.ops
NODES = 4
#: (source, target) in the benchmark's string order
EDGES = NB201.edges("cell")
PUBLISHED = NB201.published
_STRING: NB201String = NOTATIONS["nb201_string"]  # type: ignore[assignment]


def format_arch(ops: list[str]) -> str:
    """The benchmark string of six edge ops given in :data:`EDGES` order."""
    return _STRING.write(NB201, {"cell": list(ops)})


def parse_arch(text: str) -> list[str]:
    """The six edge ops of a benchmark string, checked; raises GenotypeError naming the problem."""
    return _STRING._read(NB201, text)
