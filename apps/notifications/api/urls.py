from django.urls import path

from . import views

# Mounted at "api/notifications" (no trailing slash, as in the API guide).
urlpatterns = [
    path("", views.NotificationListView.as_view(), name="notification-list"),
    path("/read-all", views.NotificationReadAllView.as_view(), name="notification-read-all"),
    path("/<uuid:notification_id>/read", views.NotificationReadView.as_view(), name="notification-read"),
]
