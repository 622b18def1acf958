"""Experiments: NAS runs launched from the dashboard or the API and run by Celery workers."""
