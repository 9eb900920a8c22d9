"""The Content-Security-Policy header on every response (settings XANTUUS_CSP; empty: none).

The pages and the admin load only this site's static files and carry no inline script or
style; the one inline script and style a page may need (Swagger UI's set-up at /api/docs/)
carry the request's nonce (`request.csp_nonce`), which the header lists in script-src and style-src.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
NONCED = ("script-src", "style-src")


def with_nonce(policy: str, nonce: str) -> str:
    """The policy with 'nonce-…' added to script-src and style-src (copied from default-src when absent)."""
    directives = [part.strip().split() for part in policy.split(";") if part.strip()]
    names = [d[0].lower() for d in directives]
    default = directives[names.index("default-src")][1:] if "default-src" in names else ["'self'"]
    for name in NONCED:
        if name not in names:
            directives.append([name, *default])
            names.append(name)
        directives[names.index(name)].append(f"'nonce-{nonce}'")
    return "; ".join(" ".join(d) for d in directives)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = request.csp_nonce = secrets.token_urlsafe(16)  # type: ignore[attr-defined]
        response = self.get_response(request)
        policy = settings.XANTUUS_CSP
        if policy and HEADER not in response:
            response[HEADER] = with_nonce(policy, nonce)
        return response
