from django.urls import path

from .views import KycStatusView, KycSubmitView

urlpatterns = [
    path("submit", KycSubmitView.as_view(), name="kyc-submit"),
    path("status", KycStatusView.as_view(), name="kyc-status"),
]
