"""The only reader of ``os.environ`` in the project.

Typed helpers that fail loudly: a value that does not parse is an ``ImproperlyConfigured`` error at start-up,
never a silent default. (Written here rather than taken from django-environ because its boolean parser accepts
``"yes"``/``"on"`` and silently falls back on garbage, which STYLE.md forbids.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

_TRUE = {"1", "true"}
_FALSE = {"0", "false"}


def is_set(name: str) -> bool:
    return bool(os.environ.get(name, "").strip())


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"Environment variable {name} is required.")
        return default
    return value


def env_optional(name: str) -> str | None:
    value = os.environ.get(name, "")
    return value or None


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true/false or 1/0.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from exc
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_json(name: str, default: Any) -> Any:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc}") from exc


def secret_key(*, var_dir: Path) -> str:
    """SECRET_KEY from the environment; on a development machine a random key kept in ``var/``.

    Never a key written in the source: tokens signed with it would be forgeable by anyone who reads the code.
    """
    if is_set("SECRET_KEY"):
        return env_str("SECRET_KEY")
    import secrets

    return var_secret(var_dir / "secret_key", lambda: secrets.token_urlsafe(64))


def var_secret(path: Path, generate: Callable[[], str]) -> str:
    """A development secret kept in a file readable by its owner only, made by ``generate`` on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = generate()
    # O_EXCL: two processes starting together must agree on one value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
