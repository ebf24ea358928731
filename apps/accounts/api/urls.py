from django.urls import path

from . import views

urlpatterns = [
    path("nonce", views.NonceView.as_view(), name="auth-nonce"),
    path("wallet-connect", views.WalletConnectView.as_view(), name="auth-wallet-connect"),
    path("signup", views.SignupView.as_view(), name="auth-signup"),
    path("login", views.LoginView.as_view(), name="auth-login"),
    path("forgot-password", views.ForgotPasswordView.as_view(), name="auth-forgot-password"),
    path("reset-password", views.ResetPasswordView.as_view(), name="auth-reset-password"),
    path("verify-email", views.VerifyEmailView.as_view(), name="auth-verify-email"),
    path("refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("logout", views.LogoutView.as_view(), name="auth-logout"),
    path("me", views.MeView.as_view(), name="auth-me"),
    path("wallets", views.WalletLinkView.as_view(), name="auth-wallets"),
]
