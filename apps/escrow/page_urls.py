from django.urls import path

from . import pages

# Mounted at "pay/escrow/": the escrow's payment_link.
urlpatterns = [
    path("<str:escrow_id>", pages.escrow_payment_page, name="escrow-payment-page"),
]
