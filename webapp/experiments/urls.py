"""Page URLs (``experiments:``) and API URLs (``api:``)."""
from django.urls import path, re_path

from webapp.experiments.api import endpoints as api
from webapp.experiments.api.stream import experiment_stream
from webapp.experiments.views import compare as views_compare
from webapp.experiments.views import curation as views_curation
from webapp.experiments.views import datasets as views_datasets
from webapp.experiments.views import experiments as views
from webapp.experiments.views import spaces as views_spaces
from webapp.experiments.views import studies as views_studies

#: a space's name in a URL (a saved version adds @N or /vN)
NAME = r"(?P<name>[a-z][a-z0-9_]{0,39})"
VERSION = r"(?P<version>[1-9][0-9]{0,8})"

pages = (
    [
        path("", views.experiment_list, name="list"),
        path("experiments/new", views.experiment_new, name="new"),
        path("experiments/<int:pk>/", views.experiment_detail, name="detail"),
        path("experiments/studies/new", views_studies.study_new, name="study_new"),
        path("experiments/<int:pk>/study.json", views_studies.study_data, name="study_data"),
        path("experiments/<int:pk>/study/cancel", views_studies.study_cancel, name="study_cancel"),
        path("experiments/<int:pk>/study/resume", views_studies.study_resume, name="study_resume"),
        path("experiments/<int:pk>/study/retrain", views_studies.study_retrain, name="study_retrain"),
        path("experiments/<int:pk>/study/best.json", views_studies.study_export, name="study_export"),
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
        path("datasets/", views_datasets.dataset_list, name="datasets"),
        path("datasets/<str:name>/", views_datasets.dataset_detail, name="dataset"),
        path("spaces/", views_spaces.space_list, name="spaces"),
        path("spaces/new", views_spaces.space_new, name="space_new"),
        re_path(rf"^spaces/{NAME}/$", views_spaces.space_detail, name="space"),
        re_path(rf"^spaces/{NAME}@{VERSION}/$", views_spaces.space_detail, name="space_version"),
        re_path(rf"^spaces/{NAME}/v{VERSION}/$", views_spaces.space_detail),
        re_path(rf"^spaces/{NAME}/document.yaml$", views_spaces.space_document, name="space_export"),
        re_path(rf"^spaces/{NAME}@{VERSION}/document.yaml$", views_spaces.space_document, name="space_version_export"),
    ],
    "experiments",
)

#: the event stream is a plain async view (api/stream.py), before ninja's catch-all 404
api_urls = ([path("experiments/<int:id>/stream", experiment_stream, name="stream"), *api.urlpatterns()], "api")
