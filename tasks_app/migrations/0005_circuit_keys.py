"""Circuit breakers keyed by what failed ("http:api.example.com"), not one per tool.

The table holds only soft state (open circuits close again after their cool-down), so it
is recreated with the new primary key rather than converted row by row.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tasks_app', '0004_agent_data'),
    ]

    operations = [
        migrations.DeleteModel(name='ToolCircuit'),
        migrations.CreateModel(
            name='ToolCircuit',
            fields=[
                ('key', models.CharField(max_length=300, primary_key=True, serialize=False)),
                ('tool', models.CharField(db_index=True, max_length=50)),
                ('state', models.CharField(
                    choices=[('closed', 'Closed'), ('open', 'Open'), ('half_open', 'Half Open')],
                    default='closed', max_length=10)),
                ('failures', models.IntegerField(default=0)),
                ('opened_at', models.DateTimeField(blank=True, null=True)),
                ('opened_until', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True, default='')),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
    ]
