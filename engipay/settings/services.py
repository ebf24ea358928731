"""Backing services: database and Redis (DESIGN.md section 6)."""

from __future__ import annotations

import dj_database_url

from engipay import embedded_redis

from .env import BASE_DIR, VAR_DIR, env_int, env_str, is_set

# --- Database: PostgreSQL through DATABASE_URL; a SQLite file when it is unset (DESIGN.md section 6).
if is_set("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL"), conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
            # A file, not memory, so that a Celery worker started by the tests sees the same test database.
            # SQLITE_TEST_PATH lets two test runs on one checkout keep apart.
            "TEST": {"NAME": env_str("SQLITE_TEST_PATH", str(VAR_DIR / "test-db.sqlite3"))},
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# DB_POOL=1: a psycopg connection pool per process (Django 5.1+) instead of a new connection per request; it
# saves PostgreSQL a backend start per request. DB_CONN_MAX_AGE must then stay 0 (Django refuses both).
if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_int("DB_POOL", 0):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env_int("DB_POOL_MAX", 8, minimum=1),
    }

# --- Redis: cache, channel layer and Celery broker. With REDIS_URL unset, a project-started server in var/.
EMBEDDED_REDIS_DIR = (BASE_DIR / env_str("EMBEDDED_REDIS_DIR", "var/redis")).resolve()
REDIS_EMBEDDED = not is_set("REDIS_URL")
if REDIS_EMBEDDED:
    REDIS_URL = embedded_redis.url(EMBEDDED_REDIS_DIR)
    CELERY_BROKER_URL = f"redis+socket://{embedded_redis.socket_path(EMBEDDED_REDIS_DIR)}?virtual_host=0"
else:
    REDIS_URL = env_str("REDIS_URL")
    CELERY_BROKER_URL = REDIS_URL

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "engipay"),
        "TIMEOUT": 300,
    }
}
