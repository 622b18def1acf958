"""NASBoard's Django project. Importing the Celery app here lets `@shared_task` bind to it."""
from webapp.celery import app as celery_app

__all__ = ["celery_app"]
