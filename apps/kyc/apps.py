from django.apps import AppConfig


class KycConfig(AppConfig):
    name = "apps.kyc"
    label = "kyc"
    verbose_name = "KYC and AML"

    def ready(self) -> None:
        # Screens every wallet the accounts app links (accounts offers the hook; it never imports kyc).
        from . import hooks  # noqa: F401
