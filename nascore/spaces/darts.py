"""The DARTS CNN space and its RobustDARTS reductions S1-S4, written in ``documents/{darts,s1,...}.yaml``; this
module names them for code that needs one of them (the published genotypes, the op lists)."""
from __future__ import annotations

from nascore.spaces import SPACES

DARTS, S1, S2, S3, S4 = (SPACES[name] for name in ("darts", "s1", "s2", "s3", "s4"))
DARTS_OPS = DARTS.ops
#: Published cells in DARTS notation: DARTS (Liu et al., ICLR 2019), NASNet-A (Zoph et al., 2018),
#: AmoebaNet-A (Real et al., 2019), as given with the DARTS paper's code.
PUBLISHED = DARTS.published
