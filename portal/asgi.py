"""ASGI entry point (``gunicorn portal.asgi -k uvicorn.workers.UvicornWorker``), measured in bench/README.md.

The views are synchronous: under ASGI Django runs them one at a time per worker in its sync thread, so this
stack serves no request concurrently within a worker and single events do not form groups (lineage/intake.py).
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_asgi_application()
