from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand

from apps.chains.solidity import write_artifacts


class Command(BaseCommand):
    help = "Compile each app's contracts/src/*.sol into contracts/artifacts/*.json with the pinned solc-js."

    def handle(self, *args, **options) -> None:
        for config in apps.get_app_configs():
            source_dir = __import__("pathlib").Path(config.path) / "contracts" / "src"
            if source_dir.is_dir():
                names = write_artifacts(source_dir, source_dir.parent / "artifacts")
                self.stdout.write(f"{config.label}: {', '.join(names)}")
