"""People in control: webhooks, their deliveries and attempts, notification preferences, the audit log;
Notification.kind gains credit_limit."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import tasks_app.ids


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("tasks_app", "0007_plan_versions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="NotificationPreference",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="notification_preference",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("email_kinds", models.JSONField(default=list)),
                ("webhook_kinds", models.JSONField(default=list)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.AlterField(
            model_name="notification",
            name="kind",
            field=models.CharField(
                choices=[
                    ("completed", "Completed"),
                    ("failed", "Failed"),
                    ("approval_needed", "Approval Needed"),
                    ("credit_limit", "Credit Limit"),
                ],
                max_length=30,
            ),
        ),
        migrations.CreateModel(
            name="AuditEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("user_id", models.IntegerField(blank=True, null=True)),
                ("username", models.CharField(blank=True, default="", max_length=150)),
                ("owner_id", models.IntegerField(blank=True, null=True)),
                (
                    "actor_kind",
                    models.CharField(
                        choices=[
                            ("api", "Api"),
                            ("page", "Page"),
                            ("admin", "Admin"),
                            ("command", "Command"),
                            ("agent", "Agent"),
                        ],
                        max_length=10,
                    ),
                ),
                ("address", models.CharField(blank=True, default="", max_length=64)),
                ("verb", models.CharField(max_length=50)),
                ("target_type", models.CharField(blank=True, default="", max_length=30)),
                ("target_id", models.CharField(blank=True, default="", max_length=64)),
                ("details", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "verbose_name_plural": "audit entries",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["owner_id", "created_at"], name="tasks_app_a_owner_i_daa4c4_idx"),
                    models.Index(fields=["verb", "created_at"], name="tasks_app_a_verb_2dae17_idx"),
                    models.Index(fields=["target_type", "target_id"], name="tasks_app_a_target__d05c7c_idx"),
                ],
            },
        ),
        migrations.CreateModel(
            name="WebhookEndpoint",
            fields=[
                (
                    "id",
                    models.CharField(
                        default=tasks_app.ids.new_id, editable=False, max_length=32, primary_key=True, serialize=False
                    ),
                ),
                ("url", models.URLField(max_length=2048)),
                ("events", models.JSONField(default=list)),
                ("wants_step", models.BooleanField(default=False)),
                ("description", models.CharField(blank=True, default="", max_length=200)),
                ("enabled", models.BooleanField(default=True)),
                ("secret_ciphertext", models.TextField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="webhooks",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="WebhookDelivery",
            fields=[
                (
                    "id",
                    models.CharField(
                        default=tasks_app.ids.new_id, editable=False, max_length=32, primary_key=True, serialize=False
                    ),
                ),
                ("event", models.CharField(max_length=30)),
                ("event_key", models.CharField(max_length=160)),
                ("task_id", models.CharField(blank=True, max_length=32, null=True)),
                ("payload", models.JSONField(default=dict)),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("attempts", models.IntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("last_status_code", models.IntegerField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True, default="")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("delivered_at", models.DateTimeField(blank=True, null=True)),
                (
                    "endpoint",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="tasks_app.webhookendpoint",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="WebhookAttempt",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.IntegerField()),
                ("started_at", models.DateTimeField()),
                ("duration_ms", models.IntegerField(default=0)),
                ("status_code", models.IntegerField(blank=True, null=True)),
                ("error", models.TextField(blank=True, default="")),
                (
                    "delivery",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempt_rows",
                        to="tasks_app.webhookdelivery",
                    ),
                ),
            ],
            options={
                "ordering": ["delivery", "number"],
                "constraints": [models.UniqueConstraint(fields=("delivery", "number"), name="one_row_per_attempt")],
            },
        ),
        migrations.AddIndex(
            model_name="webhookendpoint",
            index=models.Index(fields=["user", "enabled", "wants_step"], name="tasks_app_w_user_id_453b62_idx"),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(fields=["status", "next_attempt_at"], name="tasks_app_w_status_50c701_idx"),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(fields=["endpoint", "created_at"], name="tasks_app_w_endpoin_c5efbf_idx"),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.UniqueConstraint(fields=("endpoint", "event_key"), name="one_delivery_per_event"),
        ),
    ]
