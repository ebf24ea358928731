from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from engipay.api.health import HealthView

admin.site.site_header = "EngiPay back office"
admin.site.site_title = "EngiPay back office"
admin.site.index_title = "Operations"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health/", HealthView.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/auth/", include("apps.accounts.api.urls")),
    path("api/notifications/price-alerts", include("apps.prices.api.alert_urls")),
    path("api/notifications", include("apps.notifications.api.urls")),
    path("api/prices/", include("apps.prices.api.urls")),
    path("api/transactions", include("apps.transactions.api.urls")),
    path("api/payments/escrow", include("apps.escrow.api.urls")),
    path("pay/escrow/", include("apps.escrow.page_urls")),
    path("api/portfolio/", include("apps.portfolio.api.urls")),
    path("api/help/", include("apps.helpcenter.api.urls")),
    path("api/users/onboarding/", include("apps.onboarding.api.urls")),
    path("api/users/kyc/", include("apps.kyc.api.urls")),
    path("api/webhooks/kyc/", include("apps.kyc.api.webhook_urls")),
    path("api/webhooks/", include("apps.webhooks.api.urls")),
    path("api/support/", include("apps.support.api.urls")),
]

handler400 = "engipay.api.errors.bad_request"
handler403 = "engipay.api.errors.permission_denied"
handler404 = "engipay.api.errors.page_not_found"
handler500 = "engipay.api.errors.server_error"
