"""nascore: the NASBoard engine.  Graph search spaces, one-shot optimizers, evaluators
and a runner that emits typed events; usable from Python or ``python -m nascore``."""

__version__ = "0.1.0"
