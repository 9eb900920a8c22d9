"""Routes of the web pages (included at "" by xantuus/urls.py): login, dashboard, tasks, connections."""
from django.contrib.auth import views as auth_views
from django.urls import path

from . import approval_pages, oauth, pages, unsubscribe, wizard_pages
from .login_forms import LoginView

urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("login/", LoginView.as_view(), name="login"),  # throttled: tasks_app/login_guard.py
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tasks/", pages.task_list, name="task-list-page"),
    path("tasks/new", pages.task_new, name="task-new"),
    path("tasks/new/check", wizard_pages.check, name="task-new-check"),  # the wizard's live check
    path("tasks/<str:task_id>/", pages.task_detail, name="task-detail-page"),
    path("tasks/<str:task_id>/live", pages.task_live, name="task-live"),
    path("notifications/read", pages.notifications_read, name="notifications-read"),
    path("approvals/", approval_pages.inbox, name="approvals-page"),
    path("approvals/<str:approval_id>/decide", approval_pages.decide, name="approval-decide-page"),
    path("connect/google/", oauth.connect_google, name="connect-google"),
    path("connect/google/callback", oauth.connect_google_callback, name="connect-google-callback"),
    path("connect/google/disconnect", oauth.disconnect_google, name="disconnect-google"),
    path("unsubscribe/<str:token>", unsubscribe.unsubscribe, name="unsubscribe"),
]
