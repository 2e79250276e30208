"""Stored files written inside a transaction (benchmark import, external outputs)."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.fields.files import FieldFile


class FileLedger:
    """Files written during a transaction: removed again if it rolls back,
    and superseded files removed only once it commits."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.obsolete: list[str] = []

    def save(self, field: FieldFile, content: bytes) -> None:
        # The name given here only lends its suffix: the field's upload_to gives the stored
        # file a random name (models.item_image_path, models.edit_image_path).
        field.save("upload.png", ContentFile(content), save=False)
        # FieldFile.save sets the name the storage chose; the stubs type it as optional.
        assert field.name is not None
        self.written.append(field.name)

    def discard_written(self) -> None:
        for name in self.written:
            default_storage.delete(name)

    def on_commit_delete_obsolete(self) -> None:
        names = [n for n in self.obsolete if n]

        def delete_obsolete() -> None:
            for name in names:
                default_storage.delete(name)

        transaction.on_commit(delete_obsolete)
