"""EngiPay settings: one set of modules for every machine; machines differ only in environment values.

Every variable is listed with its default in README.md ("Configuration").
"""

from __future__ import annotations

from datetime import timedelta

from .env import (
    BASE_DIR,
    VAR_DIR,
    env_bool,
    env_int,
    env_json,
    env_list,
    env_optional,
    env_str,
    secret_key,
)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_key(var_dir=VAR_DIR)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "apps.accounts",
    "apps.chains",
    "apps.notifications",
    "apps.prices",
    "apps.transactions",
    "apps.portfolio",
    "apps.helpcenter",
    "apps.onboarding",
    "apps.support",
    "apps.kyc",
    "apps.webhooks",
    "apps.escrow",
    "simple_history",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "engipay.urls"
ASGI_APPLICATION = "engipay.asgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

from .services import *  # noqa: E402, F403

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600, minimum=60)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the app/static folders too, so the offline Swagger UI works before collectstatic.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"

# --- Email: printed to the console in development; SMTP in production (EMAIL_BACKEND and EMAIL_*).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_optional("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = env_optional("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds before an SMTP connection or reply gives up (Django's default waits forever, holding a worker).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))  # for the file backend
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "EngiPay <no-reply@engipay.local>")
FRONTEND_URL = env_str("FRONTEND_URL", "http://localhost:3000").rstrip("/")

# --- CORS: the frontend origin(s).
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [FRONTEND_URL])
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/(api|vesu|staking|analytics)/.*$"

# --- Security headers (production turns on HTTPS-only settings through the environment).
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=1024)

# --- Sign-in.
# Domains accepted in sign-in messages. Empty: the request's own host and FRONTEND_URL's host (the frontend
# proxies sign-in, so its users sign messages for its domain). Relies on a strict ALLOWED_HOSTS.
SIWE_DOMAINS = env_list("SIWE_DOMAINS", [])
# The SNIP-12 domain name Starknet sign-in messages must carry.
SNIP12_DOMAIN_NAME = env_str("SNIP12_DOMAIN_NAME", "EngiPay")
# Starknet networks (CHAINS keys) sign-in messages may name; empty: the first configured Starknet chain.
STARKNET_SIGN_IN_NETWORKS = env_list("STARKNET_SIGN_IN_NETWORKS", [])
# Account classes trusted for a sign-in before the account is deployed: class hash → index of the owner's Stark
# key in the constructor calldata. Default: OpenZeppelin's account v0.8.1 (the one starknet-devnet predeploys).
STARKNET_ACCOUNT_CLASSES = env_json(
    "STARKNET_ACCOUNT_CLASSES", {"0x061dac032f228abef9c6626f995015233097ae253a7f72d68552db02f2971b8f": 0}
)
SIGN_IN_NONCE_TTL = timedelta(seconds=env_int("SIGN_IN_NONCE_TTL_SECONDS", 600, minimum=30))
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 60, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_optional("JWT_SIGNING_KEY") or SECRET_KEY,
    "AUDIENCE": "engipay-api",
    "ISSUER": "engipay",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_OBTAIN_SERIALIZER": None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_tokens": {"()": "engipay.logging_filters.RedactTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_tokens"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        # uvicorn's own loggers go through our handler too, so websocket URLs never log a token.
        "uvicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

from .celery import *  # noqa: E402, F403
from .chains import *  # noqa: E402, F403
from .channels import *  # noqa: E402, F403
from .drf import *  # noqa: E402, F403
from .escrow import *  # noqa: E402, F403
from .kyc import *  # noqa: E402, F403
from .notifications import *  # noqa: E402, F403
from .prices import *  # noqa: E402, F403
from .support import *  # noqa: E402, F403
from .transactions import *  # noqa: E402, F403

CSRF_FAILURE_VIEW = "engipay.api.errors.csrf_failure"
