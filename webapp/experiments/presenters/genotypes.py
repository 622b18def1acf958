"""The genotype line the pages show beside a cell and copy (``genotype_text`` in payloads and page configs): the
engine writes it (nascore/spaces/genotype_text.py); a document space's edge ops get their edges named."""
from __future__ import annotations

from typing import Any

from nascore.spaces.genotype_text import genotype_text, is_pairs
from webapp.experiments.presenters.spaces import cell_shapes


def genotype_line(genotype: Any, space: Any) -> str:
    """``genotype`` of a run of ``space`` as one line: DARTS's Genotype(...), NB-201's string, or edge ops."""
    edges = None
    if isinstance(genotype, dict) and not is_pairs(genotype):
        edges = {ct: shape["edges"] for ct, shape in cell_shapes(space).items()}
    return genotype_text(genotype, edges)
