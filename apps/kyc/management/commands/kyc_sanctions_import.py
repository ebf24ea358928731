"""Import an OFAC SDN file (legacy ``sdn.csv``) as the current sanctions list: ``manage.py kyc_sanctions_import
[path] [--comments sdn_comments.csv]``. Safe to run again: the same file is recognised by its sha256."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.kyc.services.sanctions import companion_comments_path, sanctions_list_import


class Command(BaseCommand):
    help = "Import an OFAC SDN CSV file (digital currency addresses) as the current sanctions list."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", nargs="?", help="sdn.csv (default: AML_SDN_PATH)")
        parser.add_argument(
            "--comments", help="sdn_comments.csv (default: <name>_comments.csv next to the file, if present)"
        )

    def handle(self, *args, path: str | None = None, comments: str | None = None, **options) -> None:
        path = path or settings.AML_SDN_PATH
        if not path:
            raise CommandError("Give the SDN file's path (or set AML_SDN_PATH).")
        try:
            sanctions_list, created = sanctions_list_import(
                path=path, comments_path=comments or companion_comments_path(path)
            )
        except OSError as exc:
            raise CommandError(f"Cannot read {exc.filename}: {exc.strerror}") from exc
        verb = "Imported" if created else "Already imported"
        self.stdout.write(
            f"{verb} {sanctions_list.file_name}: sha256 {sanctions_list.sha256}, "
            f"{sanctions_list.entry_count} entries, {sanctions_list.address_count} addresses"
            f"{' (current)' if sanctions_list.is_current else ''}"
        )
