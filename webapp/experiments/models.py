"""Experiments, the events their runs emit, their results, and API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"
    #: DARTS-ES ended the search before its last epoch; it returns an earlier architecture (``stop_reason`` says why)
    STOPPED_EARLY = "stopped_early", "Stopped early"


ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
ENDED_STATUSES = (Status.FINISHED, Status.CANCELLED, Status.FAILED, Status.STOPPED_EARLY)
#: ended with a result (the search's own decision, not a user's or an error)
COMPLETED_STATUSES = (Status.FINISHED, Status.STOPPED_EARLY)
RESUMABLE_STATUSES = (Status.CANCELLED, Status.FAILED)


class Kind(models.TextChoices):
    SEARCH = "search", "Search"
    #: stand-alone training from scratch of the architecture a search found (``parent`` is that search)
    RETRAIN = "retrain", "Retrain"
    #: a hyperparameter study (Optuna): its trials live in Optuna's tables of the same database, ``config`` holds the
    #: study's settings (``nascore.hpo.study.StudySettings``) and ``parent`` the search whose architecture it tunes
    STUDY = "study", "HPO study"


class Tag(models.Model):
    """A user's label for curating experiments; names are unique per owner, so two users never clash."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="experiment_tags")
    name = models.CharField(max_length=50)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_tag_per_owner")]

    def __str__(self) -> str:
        return self.name


class Experiment(models.Model):
    """One run: a search, or the retraining of a search's architecture. Progress fields are a summary kept by the
    event sink for cheap list pages."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SEARCH, db_index=True)
    #: the search a retrain came from; kept (as null) when that search is deleted so the retrain survives
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retrains")

    # curation (owner or staff)
    starred = models.BooleanField(default=False, db_index=True)
    is_baseline = models.BooleanField(default=False, db_index=True, help_text="a reference run others are compared to")
    archived = models.BooleanField(default=False, db_index=True, help_text="hidden from the list unless asked for")
    notes = models.TextField(blank=True, help_text="free text, Markdown (rendered safely)")
    tags = models.ManyToManyField(Tag, blank=True, related_name="experiments")
    #: the validated engine config, defaults filled in (``data_dir`` is added by the worker)
    config = models.JSONField()
    space = models.CharField(max_length=50, db_index=True)
    optimizer = models.CharField(max_length=50, db_index=True)
    dataset = models.CharField(max_length=50, db_index=True)
    seed = models.IntegerField()
    device_requested = models.CharField(max_length=20, help_text="auto, cpu or cuda, from the config")
    queue = models.CharField(max_length=80, help_text="the Celery queue the run was sent to")

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error = models.TextField(blank=True, help_text="why the run failed")
    stop_reason = models.TextField(blank=True, help_text="why the search stopped early (DARTS-ES), in plain words")
    cancel_requested = models.BooleanField(default=False)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="first time a worker started it")
    ended_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    device = models.CharField(max_length=50, blank=True, help_text="the device the run used")
    worker = models.CharField(max_length=200, blank=True, help_text="the Celery worker that runs or ran it")
    attempts = models.PositiveIntegerField(default=0, help_text="worker starts of this run; a user's resume resets it")
    #: bumped each time a message is sent; a message with an older number is stale and ignored
    dispatch = models.PositiveIntegerField(default=0)

    epochs = models.PositiveIntegerField(default=0)
    epochs_done = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    steps_per_epoch = models.PositiveIntegerField(default=0)
    best_val_acc = models.FloatField(null=True, blank=True)
    last_val_acc = models.FloatField(null=True, blank=True)
    seconds_per_epoch = models.FloatField(null=True, blank=True, help_text="mean of completed epochs")
    last_seq = models.PositiveIntegerField(default=0)
    #: bumped whenever stored events are dropped (a resume rewinds, a fresh start); live pages reload then
    history_rev = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "status"]), models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_resumable(self) -> bool:
        return self.status in RESUMABLE_STATUSES

    @property
    def is_retrain(self) -> bool:
        return self.kind == Kind.RETRAIN

    @property
    def is_study(self) -> bool:
        return self.kind == Kind.STUDY

    @property
    def progress(self) -> float:
        """Fraction done, from completed epochs plus the steps of the current one."""
        if self.status == Status.FINISHED:
            return 1.0
        if not self.epochs:
            return 0.0
        partial = self.step / self.steps_per_epoch if self.steps_per_epoch else 0.0
        return max(0.0, min(1.0, (self.epochs_done + min(partial, 1.0)) / self.epochs))

    @property
    def duration(self) -> timedelta | None:
        if not self.started_at:
            return None
        end = self.ended_at or timezone.now()
        return end - self.started_at

    @property
    def eta_seconds(self) -> float | None:
        """Remaining time from the mean epoch time; None before an epoch has finished."""
        if not self.is_active or not self.seconds_per_epoch or not self.epochs:
            return None
        partial = min(self.step / self.steps_per_epoch, 1.0) if self.steps_per_epoch else 0.0
        return max(0.0, (self.epochs - self.epochs_done - partial) * self.seconds_per_epoch)

    def progress_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epochs_done,
            "epochs": self.epochs,
            "step": self.step,
            "steps_per_epoch": self.steps_per_epoch,
            "fraction": round(self.progress, 4),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds, 1),
            "best_val_acc": self.best_val_acc,
        }


class Event(models.Model):
    """One event of a run, numbered by the engine; (experiment, seq) is unique so replays upsert."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=30, db_index=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["experiment", "seq"]
        constraints = [models.UniqueConstraint(fields=["experiment", "seq"], name="unique_event_seq")]

    def __str__(self) -> str:
        return f"{self.experiment_id}#{self.seq} {self.type}"

    def as_dict(self) -> dict[str, Any]:
        return {**self.payload, "seq": self.seq, "type": self.type}


class Result(models.Model):
    """What a finished run produced: a search's architecture and search-time figures, or a retrain's test figures."""

    experiment = models.OneToOneField(Experiment, on_delete=models.CASCADE, related_name="result")
    genotype = models.JSONField()
    train_acc = models.FloatField(null=True, blank=True)
    val_acc = models.FloatField(null=True, blank=True)
    best_val_acc = models.FloatField(null=True, blank=True)
    train_loss = models.FloatField(null=True, blank=True)
    val_loss = models.FloatField(null=True, blank=True)
    params = models.BigIntegerField(null=True, blank=True,
                                 help_text="parameters: of the supernet for a search, of the stand-alone network for a retrain")
    arch_params = models.BigIntegerField(null=True, blank=True)
    flops = models.BigIntegerField(null=True, blank=True, help_text="when the engine reports them")
    epochs_completed = models.PositiveIntegerField(default=0)
    #: artifact name -> path on the shared artifact folder
    artifacts = models.JSONField(default=dict)
    #: the engine's full result.json
    raw = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    #: accuracy on the held-out test set, measured only by a retrain (a search never looks at the test set)
    test_acc = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"result of {self.experiment}"


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiToken(models.Model):
    """A per-user API token; only its hash is stored, the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="first characters, to tell tokens apart")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, user: Any, name: str = "") -> tuple["ApiToken", str]:
        key = "nb_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_hash=hash_token(key), prefix=key[:8])
        return token, key


class SavedSpace(models.Model):
    """One version of a user's search space document. Versions are immutable: editing saves the next version, so
    an experiment that names ``name@version`` always finds the space it ran on. A name belongs to one owner."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="saved_spaces")
    #: the document's ``name`` (never a built-in's)
    name = models.CharField(max_length=40, db_index=True)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200, blank=True, help_text="the document's title, for lists")
    #: the document as the user wrote it (YAML or JSON)
    document = models.TextField()
    #: the space's summary at its default size (counts, cells, macro), kept so lists need not parse documents
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="unique_space_version")]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """How a config names this version: ``name@version``."""
        return f"{self.name}@{self.version}"
