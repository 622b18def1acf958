"""Page URLs (``experiments:``) and API URLs (``api:``)."""
from django.urls import path, re_path

from webapp.experiments import api, benchmark, views, views_compare, views_curation

pages = (
    [
        path("", views.experiment_list, name="list"),
        path("experiments/new", views.experiment_new, name="new"),
        path("experiments/<int:pk>/", views.experiment_detail, name="detail"),
        path("experiments/<int:pk>/cancel", views.experiment_cancel, name="cancel"),
        path("experiments/<int:pk>/resume", views.experiment_resume, name="resume"),
        path("experiments/<int:pk>/artifacts/<str:name>", views.experiment_artifact, name="artifact"),
        path("experiments/<int:pk>/curate", views_curation.experiment_curate, name="curate"),
        path("experiments/<int:pk>/retrain", views_curation.experiment_retrain, name="retrain"),
        path("experiments/<int:pk>/events.jsonl", views_curation.experiment_history, name="history"),
        path("experiments/export.<str:fmt>", views_curation.experiments_export, name="export"),
        path("compare/", views_compare.compare, name="compare"),
        path("compare/export.<str:fmt>", views_compare.compare_export, name="compare_export"),
        path("compare/filter/", views_compare.compare_filter, name="compare_filter"),
        path("compare/filter/export.<str:fmt>", views_compare.compare_filter_export, name="compare_filter_export"),
        path("leaderboard/", views_compare.leaderboard, name="leaderboard"),
    ],
    "experiments",
)

api_urls = (
    [
        path("openapi.json", api.openapi, name="openapi"),
        path("experiments", api.experiments, name="experiments"),
        path("experiments/<int:pk>", api.experiment_detail, name="detail"),
        path("experiments/<int:pk>/events", api.experiment_events, name="events"),
        path("experiments/<int:pk>/cancel", api.experiment_cancel, name="cancel"),
        path("experiments/<int:pk>/resume", api.experiment_resume, name="resume"),
        path("experiments/<int:pk>/retrain", api.experiment_retrain, name="retrain"),
        path("experiments/<int:pk>/events.jsonl", api.experiment_history, name="history"),
        path("experiments/export.<str:fmt>", api.experiments_export, name="export"),
        path("tags", api.tags, name="tags"),
        path("benchmark/<str:space>", benchmark.lookup, name="benchmark"),
        re_path(r"^.*$", api.not_found),
    ],
    "api",
)
