"""StudyUnit.shuffle: each unit's place in a fixed random order, so the next-task query breaks
ties by an index scan from a random key instead of sorting all open units. Existing units get
a key each (adding the field alone would give them all one value)."""

from typing import Any

from django.db import migrations, models

import annotation.models


def shuffle_existing(apps: Any, schema_editor: Any) -> None:
    StudyUnit = apps.get_model("annotation", "StudyUnit")
    units = list(StudyUnit.objects.only("pk"))
    for unit in units:
        unit.shuffle = annotation.models.shuffle_key()
    StudyUnit.objects.bulk_update(units, ["shuffle"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0002_unit_slots_taken"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="studyunit",
            name="unit_open_slots_idx",
        ),
        migrations.AddField(
            model_name="studyunit",
            name="shuffle",
            field=models.IntegerField(default=annotation.models.shuffle_key),
        ),
        migrations.RunPython(shuffle_existing, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="studyunit",
            index=models.Index(
                fields=["study", "is_gold", "slots_taken", "shuffle"], name="unit_open_order_idx"
            ),
        ),
    ]
