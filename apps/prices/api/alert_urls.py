from django.urls import path

# Mounted at "api/notifications/price-alerts" (no trailing slash, as the notifications endpoints).
urlpatterns: list = []
