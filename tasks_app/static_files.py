"""daphne's static files (XANTUUS_SERVE_STATIC): Django's ASGI handler, with a bad path a 404.

Django's handler lets SuspiciousFileOperation (`/static/%2e%2e/...` decodes to a path outside the
static folders) and a NUL in the path escape as a 500; a path that names no static file is a 404.
"""
from __future__ import annotations

from typing import Any

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousOperation
from django.http import Http404


class StaticFilesHandler(ASGIStaticFilesHandler):
    def serve(self, request: Any) -> Any:
        try:
            return super().serve(request)
        except (SuspiciousOperation, ValueError):  # ValueError: "embedded null byte" from the file system
            raise Http404("no such static file") from None
