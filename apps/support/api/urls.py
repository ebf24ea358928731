from django.urls import include, path

# Mounted at "api/support/" (no trailing slashes, as in the API guide).
urlpatterns = [
    path("", include("apps.support.api.ticket_urls")),
    path("", include("apps.support.api.chat_urls")),
]
