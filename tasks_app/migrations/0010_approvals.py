"""Approvals bound to the exact call (input, hash, the model's decision, edits, expiry, run scope, questions)
and per-user or per-project approval policy overrides (ApprovalPolicy)."""

import django.db.models.deletion
import tasks_app.ids
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tasks_app', '0009_ops'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ApprovalPolicy',
            fields=[
                ('id', models.CharField(default=tasks_app.ids.new_id, editable=False, max_length=32, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=50)),
                ('enabled', models.BooleanField(default=True)),
                ('rule', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'verbose_name_plural': 'approval policies',
                'ordering': ['name'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='approval',
            name='one_approval_per_step',
        ),
        migrations.AddField(
            model_name='approval',
            name='answer',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.AddField(
            model_name='approval',
            name='choices',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='approval',
            name='covers',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='approval',
            name='decision',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='approval',
            name='edited_hash',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.AddField(
            model_name='approval',
            name='edited_input',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='approval',
            name='edited_policies',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='approval',
            name='expires_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='approval',
            name='input',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='approval',
            name='input_hash',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.AddField(
            model_name='approval',
            name='irreversible',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='approval',
            name='reason',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.AddField(
            model_name='approval',
            name='recipients',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='approval',
            name='scope',
            field=models.CharField(choices=[('step', 'Step'), ('run', 'Run')], default='step', max_length=10),
        ),
        migrations.AddField(
            model_name='approval',
            name='sealed',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.AddField(
            model_name='approval',
            name='why',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.AlterField(
            model_name='approval',
            name='kind',
            field=models.CharField(choices=[('policy', 'Policy'), ('unknown_outcome', 'Unknown Outcome'), ('question', 'Question')], max_length=20),
        ),
        migrations.AlterField(
            model_name='approval',
            name='policy',
            field=models.CharField(blank=True, default='', max_length=200),
        ),
        migrations.AlterField(
            model_name='approval',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('expired', 'Expired')], default='pending', max_length=10),
        ),
        migrations.AddIndex(
            model_name='approval',
            index=models.Index(fields=['status', 'expires_at'], name='tasks_app_a_status_1b38a0_idx'),
        ),
        migrations.AddConstraint(
            model_name='approval',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('task', 'run', 'step', 'kind'), name='one_pending_approval_per_step'),
        ),
        migrations.AddField(
            model_name='approvalpolicy',
            name='project',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='approval_policies', to='tasks_app.project'),
        ),
        migrations.AddField(
            model_name='approvalpolicy',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='approval_policies', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddConstraint(
            model_name='approvalpolicy',
            constraint=models.UniqueConstraint(condition=models.Q(('project__isnull', True)), fields=('user', 'name'), name='one_user_policy_per_name'),
        ),
        migrations.AddConstraint(
            model_name='approvalpolicy',
            constraint=models.UniqueConstraint(fields=('user', 'project', 'name'), name='one_project_policy_per_name'),
        ),
    ]
