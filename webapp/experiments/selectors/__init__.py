"""Queries, by module: experiments (what a user may see, lists, summaries) and compare (which runs a comparison
names, and their data).

The names of :mod:`.experiments` are the package's own, as ``selectors.get_experiment``.
"""
from webapp.experiments.selectors.experiments import (  # noqa: F401
    ARCHIVED_CHOICES,
    DISTRIBUTION_KINDS,
    EARLY_STOP_MODES,
    SORTS,
    ListFilters,
    collapse_text,
    curvature_summary,
    distribution_kind,
    events_after,
    facet_values,
    filtered_experiments,
    get_experiment,
    list_filters_from,
    tag_names,
    visible_experiments,
)
