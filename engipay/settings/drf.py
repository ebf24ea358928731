"""Django REST framework, django-filter and drf-spectacular."""

from __future__ import annotations

from .env import env_int, env_str

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["engipay.api.renderers.ExactJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "engipay.api.pagination.LimitOffsetEnvelopePagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "engipay.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON", "120/min"),
        "user": env_str("THROTTLE_USER", "600/min"),
        "auth_ip": env_str("THROTTLE_AUTH_IP", "30/min"),
        "login_account": env_str("THROTTLE_LOGIN_ACCOUNT", "5/min"),
        "nonce": env_str("THROTTLE_NONCE", "30/min"),
        "password_reset": env_str("THROTTLE_PASSWORD_RESET", "10/hour"),
        "email_address": env_str("THROTTLE_EMAIL_ADDRESS", "5/hour"),
        # New support tickets and ticket replies (they may carry uploads), per user.
        "support_write": env_str("THROTTLE_SUPPORT_WRITE", "20/min"),
        # Identity submissions (each carries several documents), per user.
        "kyc_submit": env_str("THROTTLE_KYC_SUBMIT", "10/hour"),
        # Inbound webhooks (blockchain, prices, defi), per client IP: generous, but junk cannot flood the log.
        "webhooks": env_str("THROTTLE_WEBHOOKS", "600/min"),
        # Notification settings writes (subscribe, preferences, phone codes), per user: some send an email or SMS.
        "notification_settings": env_str("THROTTLE_NOTIFICATION_SETTINGS", "30/min"),
        # Price alert writes (create, re-arm, delete), per user.
        "price_alert_write": env_str("THROTTLE_PRICE_ALERT_WRITE", "30/min"),
        # Escrow writes (create, transitions, submit, dispute statements), per user.
        "escrow_write": env_str("THROTTLE_ESCROW_WRITE", "30/min"),
    },
    # Client IPs (throttling) come from X-Forwarded-For only behind this many trusted proxies.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0, minimum=0),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "EngiPay API",
    "DESCRIPTION": (
        "Non-custodial Web3 payments and DeFi. Errors always have the shape "
        '`{"error": {"code", "message", "details"}}`. Authenticate with `Authorization: Bearer <token>` '
        "from /api/auth/wallet-connect or /api/auth/login."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/",
    "ENUM_NAME_OVERRIDES": {
        "SupportPriorityEnum": "apps.support.models.Priority",
        "SupportTicketStatusEnum": "apps.support.models.Ticket.Status",
        "KycStatusEnum": "apps.accounts.models.User.KycStatus",
        "KycSubmissionStatusEnum": "apps.kyc.models.KycSubmission.Status",
        "KycLevelEnum": "apps.kyc.models.Level",
    },
}
