from django.urls import path

from . import views

# Mounted at "api/users/onboarding/" (no trailing slash, as in the API guide).
urlpatterns = [
    path("complete", views.OnboardingCompleteView.as_view(), name="onboarding-complete"),
    path("status", views.OnboardingStatusView.as_view(), name="onboarding-status"),
    path("progress", views.OnboardingProgressView.as_view(), name="onboarding-progress"),
]
