"""StudyUnit.slots_taken: the per-unit count of assignments holding a slot, filled in for
existing studies from their assignments (leased or submitted)."""

from typing import Any

from django.db import migrations, models
from django.db.models import Count, Q


def count_existing(apps: Any, schema_editor: Any) -> None:
    StudyUnit = apps.get_model("annotation", "StudyUnit")
    holding = Q(assignments__status__in=["leased", "submitted"])
    counted = StudyUnit.objects.annotate(n=Count("assignments", filter=holding)).filter(n__gt=0)
    for unit in counted.only("pk").iterator():
        StudyUnit.objects.filter(pk=unit.pk).update(slots_taken=unit.n)


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="studyunit",
            name="slots_taken",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddIndex(
            model_name="studyunit",
            index=models.Index(
                fields=["study", "is_gold", "slots_taken"], name="unit_open_slots_idx"
            ),
        ),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
    ]
