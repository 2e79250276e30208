"""Re-encode external models' stored outputs as pixels-only PNGs.

Before this, uploaded outputs were stored byte for byte, with whatever metadata
the generation tool wrote (a PNG ``parameters`` chunk, EXIF naming the software);
uploads are re-encoded on arrival now, and this rewrites the ones stored before.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.db import migrations
from PIL import Image


def _pixels_png(data: bytes) -> bytes:
    # A copy of annotation.images.pixels_png as it is today: a migration must not
    # change when the app's code does.
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(out, format="PNG")
    return out.getvalue()


def reencode(apps: Any, schema_editor: Any) -> None:
    Edit = apps.get_model("annotation", "Edit")
    for edit in Edit.objects.filter(model__kind="external").exclude(image="").iterator():
        storage, name = edit.image.storage, edit.image.name
        if not storage.exists(name):
            continue
        with storage.open(name, "rb") as handle:
            clean = _pixels_png(handle.read())
        storage.delete(name)
        stored = storage.save(name, ContentFile(clean))
        if stored != name:
            edit.image.name = stored
            edit.save(update_fields=["image"])


class Migration(migrations.Migration):
    dependencies = [("annotation", "0003_unit_shuffle")]

    operations = [migrations.RunPython(reencode, migrations.RunPython.noop)]
