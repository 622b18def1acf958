"""Issue 6: curation (star, tags, notes, baseline, archive), retrain lineage (kind, parent) and a retrain's test accuracy.

Result.notes and Result.curated move to the experiment: notes become Experiment.notes (Markdown), and a result
staff had marked curated ("worth keeping") becomes a starred experiment. Going back copies them the other way.
"""
from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_to_experiment(apps: Any, schema_editor: Any) -> None:
    """Carry each result's notes and curated mark over to its experiment, so nothing a user wrote is lost."""
    Result = apps.get_model("experiments", "Result")
    Experiment = apps.get_model("experiments", "Experiment")
    for result in Result.objects.filter(models.Q(curated=True) | ~models.Q(notes="")).iterator():
        changes: dict[str, Any] = {}
        if result.notes:
            changes["notes"] = result.notes
        if result.curated:
            changes["starred"] = True
        Experiment.objects.filter(pk=result.experiment_id).update(**changes)


def move_back_to_result(apps: Any, schema_editor: Any) -> None:
    """The reverse: an experiment's notes and star go back onto its result (experiments without one lose them)."""
    Result = apps.get_model("experiments", "Result")
    for result in Result.objects.select_related("experiment").iterator():
        exp = result.experiment
        if exp.notes or exp.starred:
            Result.objects.filter(pk=result.pk).update(notes=exp.notes, curated=exp.starred)


class Migration(migrations.Migration):

    dependencies = [
        ('experiments', '0002_stopped_early'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='experiment',
            name='archived',
            field=models.BooleanField(db_index=True, default=False, help_text='hidden from the list unless asked for'),
        ),
        migrations.AddField(
            model_name='experiment',
            name='is_baseline',
            field=models.BooleanField(db_index=True, default=False, help_text='a reference run others are compared to'),
        ),
        migrations.AddField(
            model_name='experiment',
            name='kind',
            field=models.CharField(choices=[('search', 'Search'), ('retrain', 'Retrain')], db_index=True, default='search', max_length=20),
        ),
        migrations.AddField(
            model_name='experiment',
            name='notes',
            field=models.TextField(blank=True, help_text='free text, Markdown (rendered safely)'),
        ),
        migrations.AddField(
            model_name='experiment',
            name='parent',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='retrains', to='experiments.experiment'),
        ),
        migrations.AddField(
            model_name='experiment',
            name='starred',
            field=models.BooleanField(db_index=True, default=False),
        ),
        migrations.AddField(
            model_name='result',
            name='test_acc',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='result',
            name='params',
            field=models.BigIntegerField(blank=True, help_text='parameters: of the supernet for a search, of the stand-alone network for a retrain', null=True),
        ),
        migrations.CreateModel(
            name='Tag',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=50)),
                ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='experiment_tags', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.AddField(
            model_name='experiment',
            name='tags',
            field=models.ManyToManyField(blank=True, related_name='experiments', to='experiments.tag'),
        ),
        migrations.AddConstraint(
            model_name='tag',
            constraint=models.UniqueConstraint(fields=('owner', 'name'), name='unique_tag_per_owner'),
        ),
        migrations.RunPython(move_to_experiment, move_back_to_result),
        migrations.RemoveField(
            model_name='result',
            name='curated',
        ),
        migrations.RemoveField(
            model_name='result',
            name='notes',
        ),
    ]
