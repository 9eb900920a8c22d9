"""Notifications: a row per event a user should know of, emailed after commit when they have an email,
and delivered to the user's webhooks subscribed to its kind (per-user preferences choose which).

Created in the same transaction as the transition that caused it (completed, failed,
approval needed), so a notification exists exactly when the transition happened. The
email is sent once the transaction commits; a worker that dies in between leaves the
row without `emailed_at` (at most once for the email, exactly once for the row).
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from tasks_app import notification_prefs, webhook_events
from tasks_app.models import Notification, Task

log = logging.getLogger(__name__)

SUBJECTS = {
    Notification.Kind.COMPLETED: "Task completed: {title}",
    Notification.Kind.FAILED: "Task failed: {title}",
    Notification.Kind.APPROVAL_NEEDED: "Approval needed: {title}",
    Notification.Kind.CREDIT_LIMIT: "Paused at its credit limit: {title}",
}


def notify(task: Task, kind: str, message: str) -> Notification:
    """Store the notification; email it after commit if the user has an email and wants this kind
    emailed; write a webhook delivery for each of their endpoints subscribed to it."""
    if kind not in SUBJECTS:
        raise ValueError(f"unknown notification kind {kind!r}; known: {', '.join(SUBJECTS)}")
    note = Notification.objects.create(user_id=task.user_id, task_id=task.id, kind=kind, message=message[:10_000])
    email = task.user.email if task.user_id else ""
    if email and kind in notification_prefs.for_user(task.user_id).email_kinds:
        subject = SUBJECTS[Notification.Kind(kind)].format(title=task.title)[:200]
        transaction.on_commit(lambda: _send(note.id, email, subject, message))
    webhook_events.task_notified(task, kind, message, note_id=note.id)
    return note


def _send(note_id: int, to: str, subject: str, body: str) -> None:
    message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to],
                           headers={"Message-ID": f"<notification.{note_id}@xantuus>",
                                    "X-Xantuus-Notification": "1"})
    try:
        message.send()
    except Exception:  # the row is the record; a lost email must not fail the run that caused it
        log.warning("emailing notification %s failed", note_id, exc_info=True)
        return
    Notification.objects.filter(id=note_id).update(emailed_at=timezone.now())
