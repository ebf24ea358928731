from django.urls import path

# Mounted at "api/webhooks/" (blockchain, prices, defi); KYC vendors' webhooks are under api/webhooks/kyc/.
urlpatterns: list = []
