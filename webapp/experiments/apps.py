from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "webapp.experiments"
    label = "experiments"
    verbose_name = "Experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """The engine resolves saved spaces (``name``, ``name@N``) from the database: in the web server and in every
        Celery worker, which loads Django (and so this) before it takes a run.  Deleting a study deletes its Optuna
        study."""
        from django.db.models.signals import post_delete

        from webapp.experiments.models import Experiment
        from webapp.experiments.selectors.spaces import register
        from webapp.experiments.services.studies import delete_optuna_study

        register()
        # a study's trials live in Optuna's tables, not behind a foreign key: they are deleted with the study
        post_delete.connect(delete_optuna_study, sender=Experiment, dispatch_uid="delete_optuna_study")
