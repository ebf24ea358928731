from django.urls import path

from . import push_views, settings_views, views

# Mounted at "api/notifications" (no trailing slash, as in the API guide).
urlpatterns = [
    path("", views.NotificationListView.as_view(), name="notification-list"),
    path("/unread-count", views.NotificationUnreadCountView.as_view(), name="notification-unread-count"),
    path("/read-all", views.NotificationReadAllView.as_view(), name="notification-read-all"),
    path("/subscribe", settings_views.SubscribeView.as_view(), name="notification-subscribe"),
    path("/preferences", settings_views.PreferencesView.as_view(), name="notification-preferences"),
    path(
        "/push-subscriptions/<uuid:subscription_id>",
        settings_views.PushSubscriptionDeleteView.as_view(),
        name="notification-push-subscription",
    ),
    path("/web-push/key", push_views.WebPushKeyView.as_view(), name="notification-web-push-key"),
    path("/phone/verify", settings_views.PhoneVerifyView.as_view(), name="notification-phone-verify"),
    path("/email/confirm", settings_views.EmailConfirmView.as_view(), name="notification-email-confirm"),
    path("/unsubscribe", settings_views.UnsubscribeView.as_view(), name="notification-unsubscribe"),
    path("/<uuid:notification_id>", views.NotificationDetailView.as_view(), name="notification-detail"),
    path("/<uuid:notification_id>/read", views.NotificationReadView.as_view(), name="notification-read"),
]
