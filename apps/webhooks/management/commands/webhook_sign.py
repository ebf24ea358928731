"""Sign a webhook payload as a configured sender would: prints the headers and a curl command.

    manage.py webhook_sign --source dev --topic prices payload.json

For trying the endpoints by hand (``make run`` configures the sender ``dev``); the signature is computed exactly as
the endpoint verifies it: ``v1=`` hex HMAC-SHA256(secret, "<timestamp>." + the file's bytes).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shlex
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.webhooks import signing

PATHS = {
    "blockchain": "/api/webhooks/blockchain/transaction",
    "prices": "/api/webhooks/prices/update",
    "defi": "/api/webhooks/defi/position-update",
}


class Command(BaseCommand):
    help = "Print signed headers (and a curl command) for a webhook payload file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("payload", help="the JSON body, sent byte for byte")
        parser.add_argument("--source", default="dev", help="a key of WEBHOOK_SOURCES")
        parser.add_argument("--topic", choices=sorted(PATHS), default="blockchain")
        parser.add_argument("--base-url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")

    def _secret(self, name: str) -> str:
        source = signing.sources().get(name)
        if source is not None:
            return source.secrets[0]
        dev_file = Path(settings.VAR_DIR) / "webhook_dev_secret"
        if name == "dev" and dev_file.exists():  # `make run`'s sender, asked from another shell
            return dev_file.read_text().strip()
        raise CommandError(f"No sender {name!r} in WEBHOOK_SOURCES (`make run` configures 'dev').")

    def handle(self, *args, **options) -> None:
        secret = self._secret(options["source"])
        body = Path(options["payload"]).read_bytes()
        timestamp = str(int(time.time()))
        digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {
            signing.SOURCE_HEADER: options["source"],
            signing.TIMESTAMP_HEADER: timestamp,
            signing.SIGNATURE_HEADER: f"v1={digest}",
        }
        for name, value in headers.items():
            self.stdout.write(f"{name}: {value}")
        url = options["base_url"].rstrip("/") + PATHS[options["topic"]]
        parts = ["curl", "-sS", "-X", "POST", url, "-H", "Content-Type: application/json"]
        for name, value in headers.items():
            parts += ["-H", f"{name}: {value}"]
        parts += ["--data-binary", f"@{options['payload']}"]
        self.stdout.write(" ".join(shlex.quote(part) for part in parts))
