"""Curation of experiments: star, baseline, archive, notes and tags.

Pages, the API and the admin all call :func:`apply_curation`, so the rules live in one place: every change
is checked before anything is written, and all of a request's changes are written in one transaction (bad
input changes nothing). Who may curate is decided by the caller's lookup: ``selectors.get_experiment`` gives
an experiment only to its owner or to staff (404 otherwise). Tags belong to the experiment's owner, so a staff
member tagging someone's experiment adds to that owner's tags.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from django.db import transaction
from django.db.models import Count

from webapp.experiments.models import Experiment, Tag
from webapp.experiments.services.experiments import ExperimentInvalid

MAX_NOTES = 20_000
MAX_TAG_LENGTH = 50
MAX_TAGS = 30
#: letters and digits (any script), then also space, dot, dash, underscore, plus, colon, slash, '#', '='
_TAG_RE = re.compile(r"^[^\W_][\w .\-+:/#=]*$")
FLAGS = ("starred", "is_baseline", "archived")
#: the fields :func:`apply_curation` accepts
FIELDS = (*FLAGS, "notes", "tags", "add_tags", "remove_tags")


def clean_tag_name(raw: Any) -> str:
    """A tag name with its spaces normalised, or ExperimentInvalid saying what is wrong with it."""
    if not isinstance(raw, str):
        raise ExperimentInvalid({"tags": f"a tag must be a string, not {type(raw).__name__}"})
    name = " ".join(raw.split())
    if not name:
        raise ExperimentInvalid({"tags": "a tag cannot be empty"})
    if len(name) > MAX_TAG_LENGTH:
        raise ExperimentInvalid({"tags": f"a tag may have at most {MAX_TAG_LENGTH} characters, not {len(name)} ({name[:20]}…)"})
    if not _TAG_RE.match(name):
        raise ExperimentInvalid({"tags": f"the tag {name!r} may hold only letters, digits, spaces and . - _ + : / # =, "
                                         "and must start with a letter or digit"})
    return name


def _tag_list(value: Any, field: str) -> list[str]:
    """A list of clean, distinct tag names (case-insensitively) from a list, or ExperimentInvalid."""
    if not isinstance(value, (list, tuple)):
        raise ExperimentInvalid({field: f"{field} must be a list of tag names, not {type(value).__name__}"})
    names: list[str] = []
    seen: set[str] = set()
    for item in value:
        try:
            name = clean_tag_name(item)
        except ExperimentInvalid as exc:
            raise ExperimentInvalid({field: exc.errors["tags"]}) from None
        if name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    return names


def clean_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check a curation request; returns the cleaned changes or raises ExperimentInvalid naming every problem."""
    if not isinstance(changes, Mapping):
        raise ExperimentInvalid({"body": f"must be a JSON object of changes, not {type(changes).__name__}"})
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in FIELDS:
            errors[str(key)] = f"unknown field {key!r}; curation changes: {', '.join(FIELDS)}"
        elif key in FLAGS:
            if isinstance(value, bool):
                cleaned[key] = value
            else:
                errors[key] = f"{key} must be true or false, not {value!r}"
        elif key == "notes":
            if not isinstance(value, str):
                errors[key] = f"notes must be text, not {type(value).__name__}"
            elif len(value) > MAX_NOTES:
                errors[key] = f"notes may have at most {MAX_NOTES} characters, not {len(value)}"
            else:
                cleaned[key] = value.replace("\r\n", "\n")
        else:
            try:
                cleaned[key] = _tag_list(value, key)
            except ExperimentInvalid as exc:
                errors.update(exc.errors)
    if "tags" in cleaned and ({"add_tags", "remove_tags"} & set(cleaned)):
        errors["tags"] = "send either tags (the whole list) or add_tags/remove_tags, not both"
    if errors:
        raise ExperimentInvalid(errors)
    return cleaned


def _find_tag(owner_id: int, name: str) -> Tag | None:
    return Tag.objects.filter(owner_id=owner_id, name__iexact=name).first()


def apply_curation(experiment: Experiment, changes: Mapping[str, Any]) -> Experiment:
    """Apply ``changes`` (``starred``, ``is_baseline``, ``archived``: bool; ``notes``: Markdown text; ``tags``:
    the whole list, or ``add_tags``/``remove_tags``) to one experiment, all or nothing; returns it fresh."""
    cleaned = clean_changes(changes)
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment.pk)
        current = {t.name.lower(): t for t in exp.tags.all()}
        wanted: dict[str, str] | None = None  # lower name -> name, when the tags change
        if "tags" in cleaned:
            wanted = {n.lower(): n for n in cleaned["tags"]}
        elif "add_tags" in cleaned or "remove_tags" in cleaned:
            wanted = {k: t.name for k, t in current.items()}
            missing = [n for n in cleaned.get("remove_tags", []) if n.lower() not in current]
            if missing:
                raise ExperimentInvalid({"remove_tags": f"experiment #{exp.pk} has no tag {', '.join(map(repr, missing))}"})
            for name in cleaned.get("remove_tags", []):
                wanted.pop(name.lower(), None)
            for name in cleaned.get("add_tags", []):
                wanted.setdefault(name.lower(), name)
        if wanted is not None and len(wanted) > MAX_TAGS:
            raise ExperimentInvalid({"tags": f"an experiment may have at most {MAX_TAGS} tags, not {len(wanted)}"})
        fields = [f for f in (*FLAGS, "notes") if f in cleaned]
        for name in fields:
            setattr(exp, name, cleaned[name])
        if fields:
            exp.save(update_fields=fields)
        if wanted is not None:
            keep = [t for k, t in current.items() if k in wanted]
            added = [_find_tag(exp.owner_id, name) or Tag.objects.create(owner_id=exp.owner_id, name=name)
                     for key, name in wanted.items() if key not in current]
            exp.tags.set(keep + added)
            drop_unused_tags(exp.owner_id)
    return exp


def drop_unused_tags(owner_id: int) -> None:
    """Tags no experiment carries any more disappear, so filter menus list only tags in use."""
    Tag.objects.filter(owner_id=owner_id).annotate(n=Count("experiments")).filter(n=0).delete()


def bulk_set_flag(experiments: Iterable[Experiment], flag: str, value: bool) -> int:
    """Set one flag on many experiments (the admin's bulk actions); returns how many changed."""
    if flag not in FLAGS:
        raise ValueError(f"unknown flag {flag!r}")
    ids = [e.pk for e in experiments]
    return Experiment.objects.filter(pk__in=ids).exclude(**{flag: value}).update(**{flag: value})


def bulk_add_tag(experiments: Iterable[Experiment], name: Any) -> int:
    """Add one tag to many experiments, each under its owner's tags; all or nothing. Returns how many gained it."""
    name = clean_tag_name(name)
    gained = 0
    with transaction.atomic():
        for exp in experiments:
            if exp.tags.filter(name__iexact=name).exists():
                continue
            if exp.tags.count() >= MAX_TAGS:
                raise ExperimentInvalid({"tags": f"experiment #{exp.pk} already has {MAX_TAGS} tags"})
            tag = _find_tag(exp.owner_id, name) or Tag.objects.create(owner_id=exp.owner_id, name=name)
            exp.tags.add(tag)
            gained += 1
    return gained


def curation_dict(exp: Experiment) -> dict[str, Any]:
    """The curation state as JSON-ready data (the API and the pages' AJAX answers)."""
    from webapp.experiments.presenters.markdown import render_markdown

    return {
        "starred": exp.starred,
        "is_baseline": exp.is_baseline,
        "archived": exp.archived,
        "notes": exp.notes,
        "notes_html": str(render_markdown(exp.notes)),
        "tags": sorted((t.name for t in exp.tags.all()), key=str.lower),
    }
