from __future__ import annotations

from pathlib import Path

from django.apps import apps
from django.core.management.base import BaseCommand

from apps.chains.solidity import write_artifacts


class Command(BaseCommand):
    help = (
        "Compile each app's contracts/src/*.sol into contracts/artifacts/*.json, and its test contracts "
        "(contracts/testing/*.sol) into contracts/artifacts/testing/, with the pinned solc-js."
    )

    def handle(self, *args, **options) -> None:
        for config in apps.get_app_configs():
            contracts = Path(config.path) / "contracts"
            for sources, artifacts in (
                (contracts / "src", contracts / "artifacts"),
                (contracts / "testing", contracts / "artifacts" / "testing"),
            ):
                if sources.is_dir() and any(sources.glob("*.sol")):
                    names = write_artifacts(sources, artifacts)
                    self.stdout.write(f"{config.label}: {', '.join(names)}")
