"""Page URLs (``experiments:``) and API URLs (``api:``)."""
from django.urls import path, re_path

from webapp.experiments import api, views

pages = (
    [
        path("", views.experiment_list, name="list"),
        path("experiments/new", views.experiment_new, name="new"),
        path("experiments/<int:pk>/", views.experiment_detail, name="detail"),
        path("experiments/<int:pk>/cancel", views.experiment_cancel, name="cancel"),
        path("experiments/<int:pk>/resume", views.experiment_resume, name="resume"),
        path("experiments/<int:pk>/artifacts/<str:name>", views.experiment_artifact, name="artifact"),
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
        re_path(r"^.*$", api.not_found),
    ],
    "api",
)
