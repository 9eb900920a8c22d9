# Credits (issue 11, 6): a task's credit budget and pause reason, and the credit ledger.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tasks_app', '0005_circuit_keys'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='task',
            name='credit_budget',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='task',
            name='pause_reason',
            field=models.CharField(blank=True, default='', max_length=30),
        ),
        migrations.CreateModel(
            name='CreditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('task_ref', models.CharField(blank=True, default='', max_length=32)),
                ('agent_type', models.CharField(blank=True, default='', max_length=50)),
                ('run', models.IntegerField(default=0)),
                ('step', models.IntegerField(default=0)),
                ('reason', models.CharField(choices=[('signup', 'Signup'), ('grant', 'Grant'), ('planning', 'Planning'), ('tool', 'Tool'), ('tokens', 'Tokens')], max_length=20)),
                ('amount', models.IntegerField()),
                ('action', models.CharField(blank=True, default='', max_length=100)),
                ('model', models.CharField(blank=True, default='', max_length=100)),
                ('input_tokens', models.IntegerField(default=0)),
                ('output_tokens', models.IntegerField(default=0)),
                ('note', models.TextField(blank=True, default='')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('granted_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='credit_grants', to=settings.AUTH_USER_MODEL)),
                ('task', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='credit_entries', to='tasks_app.task')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='credit_entries', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name_plural': 'credit entries',
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['user', 'created_at'], name='tasks_app_c_user_id_2c7974_idx'), models.Index(fields=['task_ref', 'run'], name='tasks_app_c_task_re_4cf0d9_idx')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('task_ref', ''), _negated=True), fields=('task_ref', 'run', 'step', 'reason'), name='one_debit_per_step_and_reason'), models.UniqueConstraint(condition=models.Q(('reason', 'signup')), fields=('user',), name='one_signup_grant')],
            },
        ),
    ]
