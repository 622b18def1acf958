"""ASGI entry point: what `make run` and docker-compose serve, with uvicorn.

ASGI rather than WSGI because the live page's event stream (``/api/experiments/ID/stream``) holds a connection
open for as long as a run lasts: an async view waits on it for almost nothing, where a WSGI worker would be taken
for the whole run. Static files still come from whitenoise's middleware, which works the same under ASGI.
"""
import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
# a PostgreSQL connection pool per server process (webapp/settings.py says why)
os.environ.setdefault("NASBOARD_DB_POOL", "1")
# whitenoise 6 answers static files with a synchronous file iterator, which Django's ASGI handler reads in a
# thread and warns about on every file; that is the cost we accept for keeping whitenoise, so say it once here
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
application = get_asgi_application()
