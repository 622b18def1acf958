"""Admin: list, filter, search and curate experiments and results; actions go through services."""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from webapp.experiments import selectors, services
from webapp.experiments.models import ApiToken, Event, Experiment, Kind, Result, SavedSpace, Tag
from webapp.experiments.services import curation


class TagNameFilter(admin.SimpleListFilter):
    """Filter by tag name across owners (each user has their own tags, often with the same names)."""

    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(n, n) for n in selectors.tag_names(request.user)]  # the admin is staff: every owner's tags

    def queryset(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> QuerySet[Experiment]:
        return queryset.filter(tags__name__iexact=self.value()) if self.value() else queryset


class ResultInline(admin.StackedInline):
    model = Result
    extra = 0
    can_delete = False
    readonly_fields = ("genotype", "train_acc", "val_acc", "best_val_acc", "train_loss", "val_loss", "params",
                       "arch_params", "flops", "test_acc", "epochs_completed", "artifacts", "created_at")
    fields = readonly_fields


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "kind", "status", "space", "optimizer", "dataset", "progress_pct", "best_val_acc",
                    "starred", "is_baseline", "archived", "tag_list", "device", "worker", "attempts", "created_at")
    list_display_links = ("id", "name")
    list_filter = ("status", "kind", "starred", "is_baseline", "archived", TagNameFilter, "space", "optimizer", "dataset",
                   "device_requested", "queue", "owner", "created_at")
    search_fields = ("name", "owner__username", "worker", "error", "stop_reason", "notes", "tags__name", "=id")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    inlines = [ResultInline]
    actions = ["cancel_runs", "resume_runs", "requeue_lost", "star", "unstar", "archive", "unarchive", "mark_baseline",
               "unmark_baseline", "add_tag"]
    readonly_fields = ("kind", "parent_link", "config", "space", "optimizer", "dataset", "seed", "device_requested", "queue", "status", "error",
                       "stop_reason", "cancel_requested", "created_at", "started_at", "ended_at", "heartbeat_at", "device", "worker",
                       "attempts", "dispatch", "epochs", "epochs_done", "step", "steps_per_epoch", "best_val_acc",
                       "last_val_acc", "seconds_per_epoch", "last_seq", "page_link", "study_trials")
    fieldsets = (
        (None, {"fields": ("name", "owner", "page_link", "kind", "parent_link", "status", "error", "stop_reason",
                           "cancel_requested")}),
        ("Curation", {"fields": ("starred", "is_baseline", "archived", "tags", "notes")}),
        ("Configuration", {"fields": ("space", "optimizer", "dataset", "seed", "device_requested", "queue", "config")}),
        ("Progress", {"fields": ("epochs", "epochs_done", "step", "steps_per_epoch", "best_val_acc", "last_val_acc",
                                 "seconds_per_epoch", "last_seq")}),
        ("Execution", {"fields": ("created_at", "started_at", "ended_at", "heartbeat_at", "device", "worker", "attempts", "dispatch")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # experiments are created through the form or the API, which validate and queue them

    def get_fieldsets(self, request: HttpRequest, obj: Experiment | None = None) -> Any:
        """A study's trials (read from Optuna's storage) under its own heading."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.kind == Kind.STUDY:
            fieldsets = (*fieldsets, ("HPO study", {"fields": ("study_trials",),
                                                     "description": "epochs and epochs done count trials"}))
        return fieldsets

    @admin.display(description="trials")
    def study_trials(self, obj: Experiment) -> str:
        """The study's best trial and how its trials ended, read-only."""
        if obj.kind != Kind.STUDY:
            return "–"
        from webapp.experiments.selectors.studies import study_result

        try:
            result = study_result(obj)
        except Exception as exc:  # the storage unreachable: say so rather than fail the page
            return f"the study's trials cannot be read: {type(exc).__name__}: {exc}"
        states = {s: sum(t["state"] == s for t in result["trials"]) for s in ("complete", "pruned", "failed",
                                                                               "running", "waiting")}
        counts = ", ".join(f"{n} {s}" for s, n in states.items() if n) or "no trial yet"
        if result["best_value"] is None:
            return f"{len(result['trials'])} trials ({counts}); no complete trial yet"
        return format_html("{} trials ({}); best value {} (trial {}, test accuracy {}), parameters {}",
                           len(result["trials"]), counts, f"{result['best_value']:.4f}", result["best_trial"],
                           "–" if result["best_test_acc"] is None else f"{result['best_test_acc']:.4f}",
                           result["best_params"])

    @admin.display(description="progress")
    def progress_pct(self, obj: Experiment) -> str:
        return f"{obj.progress * 100:.0f}%"

    @admin.display(description="page")
    def page_link(self, obj: Experiment) -> str:
        return format_html('<a href="{}">open the live page</a>', reverse("experiments:detail", args=[obj.pk]))

    @admin.display(description="retrain of")
    def parent_link(self, obj: Experiment) -> str:
        if obj.parent_id is None:
            return "–"
        return format_html('<a href="{}">#{}</a>', reverse("admin:experiments_experiment_change", args=[obj.parent_id]),
                           obj.parent_id)

    @admin.display(description="tags")
    def tag_list(self, obj: Experiment) -> str:
        return ", ".join(sorted((t.name for t in obj.tags.all()), key=str.lower))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Experiment]:
        return super().get_queryset(request).prefetch_related("tags")

    def get_form(self, request: HttpRequest, obj: Experiment | None = None, change: bool = False, **kwargs: Any) -> Any:
        """Offer only the experiment owner's tags: tags are per user."""
        form = super().get_form(request, obj, change=change, **kwargs)
        if "tags" in form.base_fields:
            form.base_fields["tags"].queryset = Tag.objects.filter(owner=obj.owner) if obj else Tag.objects.none()
            form.base_fields["tags"].help_text = "the owner's tags; add new ones with the “Add a tag” action or on the page"
        return form

    def _flag(self, request: HttpRequest, queryset: QuerySet[Experiment], flag: str, value: bool, verb: str) -> None:
        changed = curation.bulk_set_flag(queryset, flag, value)
        self.message_user(request, f"{verb} {changed} experiment(s); {queryset.count() - changed} already were.", messages.SUCCESS)

    @admin.action(description="Star selected experiments")
    def star(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._flag(request, queryset, "starred", True, "Starred")

    @admin.action(description="Unstar selected experiments")
    def unstar(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._flag(request, queryset, "starred", False, "Unstarred")

    @admin.action(description="Archive selected experiments (hidden from lists)")
    def archive(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._flag(request, queryset, "archived", True, "Archived")

    @admin.action(description="Unarchive selected experiments")
    def unarchive(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._flag(request, queryset, "archived", False, "Unarchived")

    @admin.action(description="Mark selected experiments as baselines")
    def mark_baseline(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._flag(request, queryset, "is_baseline", True, "Marked as baseline:")

    @admin.action(description="Unmark selected baselines")
    def unmark_baseline(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._flag(request, queryset, "is_baseline", False, "No longer baseline:")

    @admin.action(description="Add a tag to selected experiments")
    def add_tag(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> HttpResponse | None:
        """First shows a page asking for the tag, then adds it to each experiment (under its owner's tags)."""
        problem = ""
        if "apply" in request.POST:
            try:
                gained = curation.bulk_add_tag(queryset, request.POST.get("tag", ""))
            except services.ExperimentInvalid as exc:
                problem = "; ".join(exc.errors.values())
            else:
                name = " ".join(request.POST["tag"].split())
                self.message_user(request, f"Tagged {gained} experiment(s) “{name}”; "
                                           f"{queryset.count() - gained} already had it.", messages.SUCCESS)
                return None
        context = {**self.admin_site.each_context(request), "title": "Add a tag", "experiments": queryset,
                   "opts": self.model._meta, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                   "problem": problem, "tag": request.POST.get("tag", ""),
                   "known_tags": sorted(set(Tag.objects.values_list("name", flat=True)), key=str.lower)}
        return TemplateResponse(request, "admin/experiments/experiment/add_tag.html", context)

    def _each(self, request: HttpRequest, queryset: QuerySet[Experiment], action: Any, verb: str) -> None:
        done, refused = 0, []
        for exp in queryset:
            try:
                action(exp)
                done += 1
            except (services.ActionRefused, services.ExperimentInvalid, services.BrokerUnavailable) as exc:
                refused.append(f"#{exp.pk}: {exc}")
        if done:
            self.message_user(request, f"{verb} {done} experiment(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Cancel selected runs")
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._each(request, queryset, services.cancel_experiment, "Cancelled (or asked to stop)")

    @admin.action(description="Resume selected cancelled or failed runs")
    def resume_runs(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._each(request, queryset, services.resume_experiment, "Queued again")

    @admin.action(description="Requeue runs whose worker went silent (all, not only selected)")
    def requeue_lost(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        ids = services.requeue_lost_runs()
        self.message_user(request, f"Requeued {len(ids)} lost run(s){': ' + ', '.join(map(str, ids)) if ids else ''}.")


@admin.register(Result)
class ResultAdmin(admin.ModelAdmin):
    list_display = ("experiment", "kind", "space", "optimizer", "best_val_acc", "val_acc", "test_acc", "params",
                    "epochs_completed", "starred", "created_at")
    list_filter = ("experiment__kind", "experiment__starred", "experiment__space", "experiment__optimizer",
                   "experiment__dataset")
    search_fields = ("experiment__name", "experiment__owner__username", "experiment__notes")
    list_select_related = ("experiment",)
    readonly_fields = ("experiment", "genotype", "train_acc", "val_acc", "best_val_acc", "train_loss", "val_loss", "params",
                       "arch_params", "flops", "test_acc", "epochs_completed", "artifacts", "raw", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(ordering="experiment__space")
    def space(self, obj: Result) -> str:
        return obj.experiment.space

    @admin.display(ordering="experiment__optimizer")
    def optimizer(self, obj: Result) -> str:
        return obj.experiment.optimizer

    @admin.display(ordering="experiment__kind")
    def kind(self, obj: Result) -> str:
        return obj.experiment.get_kind_display()

    @admin.display(boolean=True, ordering="experiment__starred")
    def starred(self, obj: Result) -> bool:
        return obj.experiment.starred


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "experiment_count")
    list_filter = ("owner",)
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return super().get_queryset(request).annotate(n=Count("experiments"))

    @admin.display(description="experiments", ordering="n")
    def experiment_count(self, obj: Any) -> int:
        return int(obj.n)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("experiment", "seq", "type", "created_at")
    list_filter = ("type",)
    search_fields = ("=experiment__id", "experiment__name")
    list_select_related = ("experiment",)
    readonly_fields = ("experiment", "seq", "type", "payload", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # events are the run's record; they are read, not edited


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at")
    search_fields = ("user__username", "name", "prefix")
    readonly_fields = ("user", "prefix", "key_hash", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are shown once by `manage.py create_token USER`


@admin.register(SavedSpace)
class SavedSpaceAdmin(admin.ModelAdmin):
    """Saved space versions, read-only: a version is immutable (a new one is saved from the Spaces page or the API,
    where the document is checked), and one that an experiment uses cannot be deleted."""

    list_display = ("name", "version", "owner", "title", "created_at", "page_link")
    list_filter = ("owner", "created_at")
    search_fields = ("name", "title", "owner__username")
    list_select_related = ("owner",)
    readonly_fields = ("name", "version", "owner", "title", "created_at", "page_link", "document", "summary")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return super().has_delete_permission(request, obj)
        return not Experiment.objects.filter(space=obj.reference).exists() and super().has_delete_permission(request, obj)

    @admin.display(description="page")
    def page_link(self, obj: SavedSpace) -> str:
        url = reverse("experiments:space_version", args=[obj.name, obj.version])
        return format_html('<a href="{}">{}</a>', url, obj.reference)
