"""The web pages: dashboard, task list, creation wizard, execution view (server-rendered).

Thin like the API: read through selectors, change through services, every object scoped
to its owner (another user's task is a 404). Live updates come from the websocket feed
and the API, driven by the static JS; nothing here writes a model directly.
"""
from __future__ import annotations

import math
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import credentials, lifecycle, selectors, services
from .api.throttling import TaskCreateThrottle, TaskExecuteThrottle, page_throttle_wait
from .charts import metric_charts
from .dashboard import dashboard_metrics
from .forms import EXAMPLE_PLAN, EXAMPLES, KINDS, TaskWizardForm, initial_form, wizard_schemas
from .lifecycle import TERMINAL
from .models import Task, TaskStatus
from .ops_pages import WINDOW_NAMES, window_of
from .ops_series import series

AGENT_TYPES = [value for value, _ in KINDS[:4]]


def _user(request: HttpRequest) -> User:
    """The logged-in user (every page but the login one requires a login)."""
    return cast(User, request.user)


def _own_task(request: HttpRequest, task_id: str) -> Task:
    task = selectors.task_of_user(user=request.user, task_id=task_id[:32])
    if task is None:
        raise Http404("no such task")
    return task


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    tasks = selectors.task_list_for_user(user=request.user).order_by("-created_at")[:10]
    window = window_of(request, "last7d")  # the same windows and charts as /ops/, of the user's own work
    return render(request, "tasks_app/dashboard.html", {
        "metrics": dashboard_metrics(user=request.user, window=window), "window": window,
        "windows": WINDOW_NAMES, "window_name": WINDOW_NAMES[window],
        "charts": metric_charts(series(user=request.user, window=window)),
        "recent": [(task, selectors.task_progress(task)) for task in tasks],
        "notifications": selectors.notifications_for_user(user=request.user),
        "approvals": selectors.approvals_pending_for_user(user=request.user)[:10],
        "connections": {row["provider"]: row["updated_at"] for row in credentials.connected(user_id=_user(request).id)},
    })


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    tasks = selectors.task_list_for_user(user=request.user).order_by("-created_at")
    status = request.GET.get("status", "") if request.GET.get("status") in TaskStatus.values else ""
    agent_type = request.GET.get("agentType", "") if request.GET.get("agentType") in [*AGENT_TYPES, "custom"] else ""
    if status:
        tasks = tasks.filter(status=status)
    if agent_type == "custom":
        tasks = tasks.filter(agent_type__isnull=True)
    elif agent_type:
        tasks = tasks.filter(agent_type=agent_type)
    page = Paginator(tasks, 25).get_page(request.GET.get("page"))
    return render(request, "tasks_app/task_list.html", {
        "page": page, "rows": [(task, selectors.task_progress(task)) for task in page],
        "statuses": TaskStatus.values, "agent_types": [*AGENT_TYPES, "custom"],
        "status": status, "agent_type": agent_type,
    })


@login_required
def task_new(request: HttpRequest) -> HttpResponse:
    form = TaskWizardForm(request.POST) if request.method == "POST" else initial_form()
    wait = None
    if request.method == "POST" and form.is_valid():
        # the API's create (and, to start it now, execute) limits: nothing is created when over either
        limits = [TaskCreateThrottle, *([TaskExecuteThrottle] if form.cleaned_data["run_now"] else [])]
        wait = page_throttle_wait(request, *limits)
        if wait is not None:
            form.add_error(None, f"Too many tasks created or started: try again in {math.ceil(wait)} seconds.")
        else:
            try:
                task = services.task_create(user=_user(request), **form.create_kwargs())
            except services.InvalidTask as exc:
                form.show_service_error(exc.field, str(exc))
            else:
                if form.cleaned_data["run_now"]:
                    services.task_execute(task=task)
                return redirect("task-detail-page", task_id=task.id)
    return _wizard(request, form, wait)


def _wizard(request: HttpRequest, form: TaskWizardForm, wait: float | None) -> HttpResponse:
    examples = {kind: {"title": ex["title"], "config": ex["config"]} for kind, ex in EXAMPLES.items()}
    response = render(request, "tasks_app/task_new.html", {
        "form": form, "examples": examples, "example_plan": EXAMPLE_PLAN, "schemas": wizard_schemas(),
    }, status=429 if wait is not None else 400 if form.is_bound else 200)
    if wait is not None:
        response["Retry-After"] = str(math.ceil(wait))
    return response


def _task_context(task: Task) -> dict[str, Any]:
    return {
        "task": task, "progress": selectors.task_progress(task), "steps": list(selectors.task_steps(task)),
        "trace": selectors.task_trace(task),
        "approvals": selectors.approvals_pending_for_task(task),
        "finished": task.status in TERMINAL,
        "irreversible": selectors.task_irreversible_steps(task) if task.status not in TERMINAL else [],
    }


@login_required
def task_detail(request: HttpRequest, task_id: str) -> HttpResponse:
    task = _own_task(request, task_id)
    return render(request, "tasks_app/task_detail.html", {
        **_task_context(task), "controls": _controls(task),
    })


@login_required
def task_live(request: HttpRequest, task_id: str) -> HttpResponse:
    """The live part of the task page as HTML: the page's JS swaps it in after an event."""
    return render(request, "tasks_app/_task_live.html", _task_context(_own_task(request, task_id)))


def _controls(task: Task) -> list[dict[str, str]]:
    """The buttons of the task page; the JS shows those allowed in the current status."""
    def when(*transitions: str) -> str:
        return " ".join(s for s in TaskStatus.values if any(lifecycle.allowed(s, t) for t in transitions))

    return [
        {"action": "execute", "label": "Run", "when": "pending", "style": "primary"},
        {"action": "execute", "label": "Run again", "when": " ".join(sorted(TERMINAL)), "style": ""},
        {"action": "pause", "label": "Pause", "when": when("pause"), "style": ""},
        {"action": "resume", "label": "Resume", "when": when("resume"), "style": "primary"},
        {"action": "cancel", "label": "Cancel", "when": when("cancel"), "style": "danger"},
        {"action": "replay", "label": "Replay", "when": " ".join(sorted(TERMINAL)), "style": ""},
        {"action": "rollback", "label": "Roll back", "when": " ".join(sorted(TERMINAL)), "style": "danger"},
    ]


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_read(user=_user(request))
    return redirect("dashboard")
