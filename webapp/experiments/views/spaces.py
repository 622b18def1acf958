"""The Spaces pages: the built-in and saved spaces, a document's check and preview, saving a space or its next
version, one space (or one version) with the experiments that use it. Thin: :mod:`selectors.spaces` reads,
:mod:`services.spaces` checks and saves, :mod:`presenters.spaces` words and draws."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from nascore.spaces import SPACES
from nascore.spaces.document import dump
from webapp.experiments.forms.spaces import SpaceDocumentForm
from webapp.experiments.presenters import spaces as present
from webapp.experiments.selectors import spaces as data
from webapp.experiments.services import spaces as actions


@login_required
@require_GET
def space_list(request: HttpRequest) -> HttpResponse:
    counts = data.version_counts()
    used: dict[str, dict[int, int]] = {}
    for ref, n in data.usage_counts_all(request.user).items():
        parsed = data.parse_reference(ref)
        if parsed is not None and parsed[1] is not None:
            used.setdefault(parsed[0], {})[parsed[1]] = n
    saved = [present.saved_row(row, counts.get(row.name, 1), used.get(row.name, {})) for row in data.latest_versions()]
    return render(request, "experiments/spaces.html",
                  {"builtins": [present.builtin_row(s) for s in SPACES.values()], "saved": saved})


@login_required
@require_http_methods(["GET", "POST"])
def space_new(request: HttpRequest) -> HttpResponse:
    """GET: an empty form, or ``?of=NAME`` the latest document of your space NAME to edit into its next version.
    POST: ``action=check`` shows the problems or the preview, ``action=save`` stores a valid document."""
    of = request.GET.get("of") if request.method == "GET" else request.POST.get("of")
    base = None
    if of:
        base = data.get_version(of)
        if base.owner_id != request.user.pk:
            raise Http404("no such space of yours")
    if request.method == "GET":
        form = SpaceDocumentForm(initial={"document": base.document if base else "", "of": of or ""})
        return render(request, "experiments/space_new.html", {"form": form, "base": base})
    form = SpaceDocumentForm(request.POST, request.FILES)
    context: dict[str, Any] = {"form": form, "base": base, "checked": True}
    if form.is_valid():
        text = form.text()
        if request.POST.get("action") == "save" and not form.errors:
            try:
                saved = actions.save(request.user, text, of=of or None)
            except actions.SpaceInvalid as exc:
                context["problems"] = present.problem_rows(exc.errors)
            else:
                messages.success(request, present.saved_message(saved.name, saved.reference))
                return redirect("experiments:space_version", name=saved.name, version=saved.version)
        if "problems" not in context:
            checked = actions.check(text, **form.size(), user=request.user, of=of or None)
            context["problems"] = present.problem_rows(checked.problems)
            if checked.summary is not None:
                context["preview"] = present.preview(checked.summary)
            context["valid"] = checked.valid
            if checked.valid and checked.space is not None:
                context["save_text"] = present.save_text(actions.next_reference(checked.space.name))
        if form.cleaned_data.get("upload"):  # show what was read, so a save does not need the file again
            form.data = form.data.copy()
            form.data["document"] = text
    else:
        context["problems"] = present.problem_rows({k: "; ".join(v) for k, v in form.errors.items()})
    context["problems_heading"] = present.problems_heading(len(context["problems"]))
    return render(request, "experiments/space_new.html", context)


def _size(request: HttpRequest) -> tuple[dict[str, Any], dict[str, str]]:
    form = SpaceDocumentForm(request.GET)
    form.is_valid()
    problems = {k: "; ".join(v) for k, v in form.errors.items() if k in ("channels", "layers")}
    size = {k: form.cleaned_data.get(k) for k in ("channels", "layers")}
    return size, problems


@login_required
@require_GET
def space_detail(request: HttpRequest, name: str, version: int | None = None) -> HttpResponse:
    """A built-in (read-only), or a saved space's latest version or ``version``: the document, the preview at the
    size asked for, its versions and the experiments that use the version shown."""
    version = int(version) if version else None
    size, problems = _size(request)
    if name in SPACES and version is None:
        space: Any = SPACES[name]
        context: dict[str, Any] = {"name": name, "title": space.title, "builtin": True,
                                   "document": dump(space.to_document())}
    else:
        row = data.get_version(name, version)
        space = data.space_of(row)
        usage = data.usage_counts(row.name, request.user)
        context = {"name": row.name, "title": row.title or row.name, "row": row, "document": row.document,
                   "versions": present.version_rows(data.versions(row.name), usage, row.version),
                   "experiments": list(data.experiments_using(row.reference, request.user)[:50]),
                   "mine": row.owner_id == request.user.pk, "pinned": version is not None}
    if not problems:
        problems = space.check_size(size["channels"], size["layers"])
    if not problems:
        context["preview"] = present.preview(actions.preview_summary(space, size["channels"], size["layers"]))
    context["problems"] = present.problem_rows(problems)
    context["size"] = {k: v or "" for k, v in size.items()}
    context["defaults"] = {"channels": space.default_channels, "layers": space.default_layers}
    return render(request, "experiments/space_detail.html", context)


@login_required
@require_GET
def space_document(request: HttpRequest, name: str, version: int | None = None) -> HttpResponse:
    """The document as a file: a built-in's (from its space) or a saved version's text as it was written."""
    version = int(version) if version else None
    if name in SPACES and version is None:
        text, filename = dump(SPACES[name].to_document()), f"{name}.yaml"
    else:
        row = data.get_version(name, version)
        text, filename = row.document, f"{row.name}-v{row.version}.yaml"
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
