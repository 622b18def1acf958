"""Package versions recorded with every run, so a result says what produced it."""
from __future__ import annotations

import platform

import networkx
import numpy
import torch

import nascore


def package_versions() -> dict[str, str]:
    return {
        "nascore": nascore.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "networkx": networkx.__version__,
    }
