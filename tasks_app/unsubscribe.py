"""The unsubscribe page a campaign email links to (List-Unsubscribe): no login, the signed token is the key.

GET shows a one-button confirmation (link scanners that prefetch must not unsubscribe anyone);
POST, from that button or a mail client's one-click (RFC 8058), marks the contact unsubscribed.
"""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import contacts


@csrf_exempt  # a mail client's one-click POST carries no CSRF token; the signed token authorizes it
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        valid = contacts.unsubscribe_target(token=token) is not None
        return render(request, "tasks_app/unsubscribe.html", {"state": "confirm" if valid else "invalid"},
                      status=200 if valid else 404)
    email = contacts.unsubscribe(token=token)
    return render(request, "tasks_app/unsubscribe.html", {"state": "done" if email else "invalid", "email": email},
                  status=200 if email else 404)
