from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "webapp.experiments"
    label = "experiments"
    verbose_name = "Experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """The engine resolves saved spaces (``name``, ``name@N``) from the database: in the web server and in every
        Celery worker, which loads Django (and so this) before it takes a run."""
        from webapp.experiments.selectors.spaces import register

        register()
