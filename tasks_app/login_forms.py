"""The login forms of the pages and the admin, and the page's login view: both pass login_guard.

A refused login (too many attempts) is a form error that says so and when to try again, the same
for every username; the page answers it with 429 and Retry-After.
"""
from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponse

from . import login_guard


class GuardedLogin:
    """AuthenticationForm.clean with login_guard.authenticate in place of Django's authenticate()."""

    locked: login_guard.LoginLocked | None = None

    def clean(self: Any) -> dict[str, Any]:
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = login_guard.authenticate(self.request, username, password)
            except login_guard.LoginLocked as exc:
                self.locked = exc
                raise ValidationError(str(exc), code="locked") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return dict(self.cleaned_data)


class LoginForm(GuardedLogin, AuthenticationForm):
    pass


class AdminLoginForm(GuardedLogin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    """Django's LoginView with the guarded form; a refused login answers 429 with Retry-After."""

    authentication_form = LoginForm
    template_name = "tasks_app/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if getattr(form, "locked", None) is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.locked.retry_after)
        return response
