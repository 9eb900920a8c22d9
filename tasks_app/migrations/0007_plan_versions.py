# Plan versions (issue 12, 2): every plan a run followed, and which one each step ran from.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tasks_app', '0006_credits'),
    ]

    operations = [
        migrations.AddField(
            model_name='taskexecution',
            name='plan_version',
            field=models.IntegerField(default=1),
        ),
        migrations.AddIndex(
            model_name='taskexecution',
            index=models.Index(fields=['action', 'completed_at'], name='tasks_app_t_action_ad1f0e_idx'),
        ),
        migrations.CreateModel(
            name='PlanVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('run', models.IntegerField()),
                ('version', models.IntegerField()),
                ('kind', models.CharField(choices=[('initial', 'Initial'), ('replan', 'Replan'), ('refine', 'Refine')], max_length=10)),
                ('source', models.CharField(max_length=20)),
                ('at_step', models.IntegerField(default=0)),
                ('reason', models.TextField()),
                ('plan', models.JSONField()),
                ('tokens', models.IntegerField(default=0)),
                ('credits', models.IntegerField(default=0)),
                ('model', models.CharField(blank=True, default='', max_length=100)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('task', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='plan_versions', to='tasks_app.task')),
            ],
            options={
                'ordering': ['task', 'run', 'version'],
                'constraints': [models.UniqueConstraint(fields=('task', 'run', 'version'), name='one_plan_version')],
            },
        ),
    ]
