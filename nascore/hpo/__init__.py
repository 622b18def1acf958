"""Hyperparameter optimisation with NAS (Optuna): studies that tune a network's architecture and training jointly."""
