"""Admin: list, filter, search and curate experiments and results; actions go through services."""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from webapp.experiments import services
from webapp.experiments.models import ApiToken, Event, Experiment, Result


class ResultInline(admin.StackedInline):
    model = Result
    extra = 0
    can_delete = False
    readonly_fields = ("genotype", "train_acc", "val_acc", "best_val_acc", "train_loss", "val_loss", "params",
                       "arch_params", "flops", "epochs_completed", "artifacts", "created_at")
    fields = readonly_fields + ("curated", "notes")


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "status", "space", "optimizer", "dataset", "progress_pct", "best_val_acc",
                    "device", "worker", "attempts", "created_at")
    list_display_links = ("id", "name")
    list_filter = ("status", "space", "optimizer", "dataset", "device_requested", "queue", "owner", "created_at")
    search_fields = ("name", "owner__username", "worker", "error", "stop_reason", "=id")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    inlines = [ResultInline]
    actions = ["cancel_runs", "resume_runs", "requeue_lost"]
    readonly_fields = ("config", "space", "optimizer", "dataset", "seed", "device_requested", "queue", "status", "error",
                       "stop_reason", "cancel_requested", "created_at", "started_at", "ended_at", "heartbeat_at", "device", "worker",
                       "attempts", "dispatch", "epochs", "epochs_done", "step", "steps_per_epoch", "best_val_acc",
                       "last_val_acc", "seconds_per_epoch", "last_seq", "page_link")
    fieldsets = (
        (None, {"fields": ("name", "owner", "page_link", "status", "error", "stop_reason", "cancel_requested")}),
        ("Configuration", {"fields": ("space", "optimizer", "dataset", "seed", "device_requested", "queue", "config")}),
        ("Progress", {"fields": ("epochs", "epochs_done", "step", "steps_per_epoch", "best_val_acc", "last_val_acc",
                                 "seconds_per_epoch", "last_seq")}),
        ("Execution", {"fields": ("created_at", "started_at", "ended_at", "heartbeat_at", "device", "worker", "attempts", "dispatch")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # experiments are created through the form or the API, which validate and queue them

    @admin.display(description="progress")
    def progress_pct(self, obj: Experiment) -> str:
        return f"{obj.progress * 100:.0f}%"

    @admin.display(description="page")
    def page_link(self, obj: Experiment) -> str:
        return format_html('<a href="{}">open the live page</a>', reverse("experiments:detail", args=[obj.pk]))

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
    list_display = ("experiment", "space", "optimizer", "best_val_acc", "val_acc", "params", "epochs_completed", "curated", "created_at")
    list_filter = ("curated", "experiment__space", "experiment__optimizer", "experiment__dataset")
    search_fields = ("experiment__name", "experiment__owner__username", "notes")
    list_select_related = ("experiment",)
    readonly_fields = ("experiment", "genotype", "train_acc", "val_acc", "best_val_acc", "train_loss", "val_loss", "params",
                       "arch_params", "flops", "epochs_completed", "artifacts", "raw", "created_at")
    actions = ["mark_curated", "unmark_curated"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(ordering="experiment__space")
    def space(self, obj: Result) -> str:
        return obj.experiment.space

    @admin.display(ordering="experiment__optimizer")
    def optimizer(self, obj: Result) -> str:
        return obj.experiment.optimizer

    @admin.action(description="Mark as curated")
    def mark_curated(self, request: HttpRequest, queryset: QuerySet[Result]) -> None:
        self.message_user(request, f"Marked {queryset.update(curated=True)} result(s) curated.")

    @admin.action(description="Unmark curated")
    def unmark_curated(self, request: HttpRequest, queryset: QuerySet[Result]) -> None:
        self.message_user(request, f"Unmarked {queryset.update(curated=False)} result(s).")


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
