"""Operations: RunRecord (one row per finished run) and WorkerHeartbeat; finished tasks' last runs are
recorded from their rows, so the per-run metrics start from what is there."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backfill_last_runs(apps, schema_editor):
    task_model, record_model = apps.get_model("tasks_app", "Task"), apps.get_model("tasks_app", "RunRecord")
    finished = task_model.objects.filter(status__in=["completed", "failed", "cancelled"], attempts__gt=0)
    record_model.objects.bulk_create(
        [
            record_model(
                task_id=t.id,
                task_ref=t.id,
                run=t.attempts,
                user_id=t.user_id,
                agent_type=t.agent_type or "custom",
                priority=t.priority,
                status=t.status,
                queued_at=t.queued_at,
                started_at=t.started_at,
                finished_at=t.completed_at or t.failed_at or t.updated_at,
                duration_ms=t.execution_time,
                tokens=t.total_tokens,
                credits=t.total_credits,
                steps=t.current_step,
                error=(t.error or "")[:2000],
            )
            for t in finished.iterator()
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tasks_app", "0008_control"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkerHeartbeat",
            fields=[
                ("name", models.CharField(max_length=200, primary_key=True, serialize=False)),
                (
                    "kind",
                    models.CharField(
                        choices=[("worker", "Worker"), ("inline", "Inline"), ("beat", "Beat")], max_length=10
                    ),
                ),
                ("pid", models.IntegerField(blank=True, null=True)),
                ("queues", models.JSONField(default=list)),
                ("concurrency", models.IntegerField(default=0)),
                ("active", models.JSONField(default=list)),
                ("processed", models.IntegerField(default=0)),
                ("load", models.JSONField(default=list)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("last_seen", models.DateTimeField()),
                ("stopped_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["kind", "name"],
            },
        ),
        migrations.CreateModel(
            name="RunRecord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("task_ref", models.CharField(max_length=32)),
                ("run", models.IntegerField()),
                ("agent_type", models.CharField(default="custom", max_length=50)),
                ("priority", models.CharField(default="medium", max_length=10)),
                (
                    "status",
                    models.CharField(
                        choices=[("completed", "Completed"), ("failed", "Failed"), ("cancelled", "Cancelled")],
                        max_length=10,
                    ),
                ),
                ("queued_at", models.DateTimeField(blank=True, null=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField()),
                ("duration_ms", models.IntegerField(default=0)),
                ("tokens", models.IntegerField(default=0)),
                ("credits", models.IntegerField(default=0)),
                ("steps", models.IntegerField(default=0)),
                ("retries", models.IntegerField(default=0)),
                ("first_action", models.CharField(blank=True, default="", max_length=100)),
                ("time_to_first_step_ms", models.IntegerField(blank=True, null=True)),
                ("error", models.TextField(blank=True, default="")),
                (
                    "task",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="run_records",
                        to="tasks_app.task",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="run_records",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-finished_at"],
                "indexes": [
                    models.Index(fields=["finished_at"], name="tasks_app_r_finishe_d954ab_idx"),
                    models.Index(fields=["user", "finished_at"], name="tasks_app_r_user_id_cf9965_idx"),
                    models.Index(fields=["agent_type", "finished_at"], name="tasks_app_r_agent_t_ca6118_idx"),
                ],
                "constraints": [models.UniqueConstraint(fields=("task_ref", "run"), name="one_record_per_run")],
            },
        ),
        migrations.RunPython(backfill_last_runs, migrations.RunPython.noop),
    ]
