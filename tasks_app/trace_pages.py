"""The trace viewer's downloads: a task's execution trace as a JSON file, and the screenshots its
steps took (owner only; a file is served only if a step's output names it and it lies in the
owner's artifacts folder)."""
from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse

from . import selectors
from .api.serializers import StepSerializer
from .models import Task
from .templatetags.trace_view import screenshot_files


def _own_task(request: HttpRequest, task_id: str) -> Task:
    task = selectors.task_of_user(user=request.user, task_id=task_id[:32])
    if task is None:
        raise Http404("no such task")
    return task


@login_required
def trace_download(request: HttpRequest, task_id: str) -> HttpResponse:
    task = _own_task(request, task_id)
    body = {"taskId": task.id, "title": task.title, "status": task.status, "run": task.attempts,
            "trace": selectors.task_trace(task),
            "steps": StepSerializer(selectors.task_steps(task), many=True).data}
    response = HttpResponse(json.dumps(body, indent=2, ensure_ascii=False, default=str),
                            content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="trace-{task.id}-run-{max(task.attempts, 1)}.json"'
    return response


@login_required
def step_screenshot(request: HttpRequest, task_id: str, step_id: str, number: int) -> FileResponse:
    task = _own_task(request, task_id)
    step = selectors.task_step(task, step_id=step_id[:32])
    if step is None:
        raise Http404("no such step")
    shots = screenshot_files(step.output)
    if not 1 <= number <= len(shots):
        raise Http404("no such screenshot")
    root = (settings.MEDIA_ROOT / "artifacts" / str(task.user_id)).resolve()
    path = (root / shots[number - 1]["path"]).resolve()  # an absolute path stays itself
    if not path.is_relative_to(root) or not path.is_file():
        raise Http404("the screenshot is not among your files")
    return FileResponse(path.open("rb"), content_type="image/png")
