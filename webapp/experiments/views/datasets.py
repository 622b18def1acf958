"""The Datasets pages: what the data folder holds (built-in and the user's own datasets), and one dataset's
contents. Thin: :mod:`selectors.datasets` reads, :mod:`presenters.datasets` words, templates show."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.experiments.presenters import datasets as present
from webapp.experiments.selectors import datasets as data


@login_required
@require_GET
def dataset_list(request: HttpRequest) -> HttpResponse:
    builtins = [present.builtin_row(b.spec, b.present) for b in data.builtin_datasets()]
    own = [present.user_row(name) for name in data.user_dataset_names()]
    return render(request, "experiments/datasets.html",
                  {"builtins": builtins, "own": own, "data_dir": str(data.data_dir())})


@login_required
@require_GET
def dataset_detail(request: HttpRequest, name: str) -> HttpResponse:
    if ":" not in name:
        b = data.builtin(name)
        return render(request, "experiments/dataset_detail.html",
                      {"name": name, "builtin": present.builtin_row(b.spec, b.present)})
    summary = data.user_summary(name)
    problems = present.problem_lines(summary, summary["path"])
    return render(request, "experiments/dataset_detail.html", {
        "name": name, "summary": summary, "lines": present.summary_lines(summary),
        "counts": present.count_table(summary), "problems": problems,
        "problems_heading": present.problems_heading(len(problems)),
        "thumbnails": data.thumbnails(name) if summary["kind"] == "images" else {},
    })
