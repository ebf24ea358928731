from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.accounts.starknet_proof import DOMAIN_TYPE, SIGN_IN_TYPE
from engipay.api.errors import Unauthenticated
from engipay.api.throttling import (
    AuthIPThrottle,
    EmailAddressThrottle,
    LoginFailureThrottle,
    NonceThrottle,
    PasswordResetThrottle,
)
from engipay.api.validation import ErrorSerializer, validated

from .serializers import (
    AuthOutput,
    EmailPasswordInput,
    ForgotPasswordInput,
    MeOutput,
    MessageOutput,
    NonceOutput,
    RefreshInput,
    RefreshOutput,
    ResetPasswordInput,
    TokenInput,
    UserOutput,
    WalletOutput,
    WalletProofInput,
)

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 429: ErrorSerializer}
# A wallet on a sanctions list cannot sign up or be linked (apps/kyc screening).
WALLET_ERRORS = {**ERRORS, 403: ErrorSerializer}
SIWE_EXAMPLE = OpenApiExample(
    "MetaMask with a SIWE message",
    value={
        "wallet_address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "wallet_type": "metamask",
        "message": (
            "localhost:3000 wants you to sign in with your Ethereum account:\n"
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\n\nSign in to EngiPay\n\n"
            "URI: http://localhost:3000\nVersion: 1\nChain ID: 31337\nNonce: <from GET /api/auth/nonce>\n"
            "Issued At: 2026-11-26T10:00:00Z\nExpiration Time: 2026-11-26T10:10:00Z"
        ),
        "signature": "0x<65-byte personal_sign signature>",
    },
    request_only=True,
)
STARKNET_EXAMPLE = OpenApiExample(
    "Argent or Braavos with SNIP-12 typed data",
    value={
        "wallet_address": "0x04a7c1f0e1b1b3f1d0c2e5a8f9b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9",
        "wallet_type": "argent",
        "message": {
            "types": {"StarknetDomain": DOMAIN_TYPE, "SignIn": SIGN_IN_TYPE},
            "primaryType": "SignIn",
            "domain": {"name": "EngiPay", "version": "1", "chainId": "SN_MAIN", "revision": "1"},
            "message": {
                "domain": "localhost:3000",
                "address": "0x04a7c1f0e1b1b3f1d0c2e5a8f9b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9",
                "nonce": "<from GET /api/auth/nonce>",
                "issuedAt": 1795687200,
                "expirationTime": 1795687800,
            },
        },
        "signature": ["0x<r>", "0x<s>"],
    },
    request_only=True,
)
BITCOIN_EXAMPLE = OpenApiExample(
    "Xverse with a BIP-322 signed CAIP-122 message",
    value={
        "wallet_address": "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
        "wallet_type": "xverse",
        "message": (
            "localhost:3000 wants you to sign in with your Bitcoin account:\n"
            "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297\n\nSign in to EngiPay\n\n"
            "URI: http://localhost:3000\nVersion: 1\nChain ID: bip122:000000000019d6689c085ae165831e93\n"
            "Nonce: <from GET /api/auth/nonce>\nIssued At: 2026-11-26T10:00:00Z\nExpiration Time: 2026-11-26T10:10:00Z"
        ),
        "signature": "<base64 BIP-322 simple signature>",
    },
    request_only=True,
)


def _auth_response(user, message: str, status: int = 200) -> Response:
    user = selectors.user_with_wallets(user_id=user.pk)
    body = {"message": message, **services.tokens_issue(user=user), "user": UserOutput(user).data}
    return Response(body, status=status)


class NonceView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [NonceThrottle]

    @extend_schema(
        tags=["auth"],
        responses={200: NonceOutput, 429: ErrorSerializer},
        summary="A single-use nonce for a wallet sign-in message",
    )
    def get(self, request: Request) -> Response:
        nonce = services.sign_in_nonce_issue()
        return Response(NonceOutput({"nonce": nonce.nonce, "expires_at": nonce.expires_at}).data)


class WalletConnectView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthIPThrottle]

    @extend_schema(
        tags=["auth"],
        request=WalletProofInput,
        examples=[SIWE_EXAMPLE, STARKNET_EXAMPLE, BITCOIN_EXAMPLE],
        responses={200: AuthOutput, **WALLET_ERRORS},
        summary="Sign in with a wallet (proof required)",
    )
    def post(self, request: Request) -> Response:
        data = validated(WalletProofInput, request.data)
        user, created = services.wallet_sign_in(**data, request_host=request.get_host())
        return _auth_response(user, "Wallet connected and user created" if created else "Wallet connected")


class SignupView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthIPThrottle, EmailAddressThrottle]

    @extend_schema(tags=["auth"], request=EmailPasswordInput, responses={201: AuthOutput, **ERRORS})
    def post(self, request: Request) -> Response:
        data = validated(EmailPasswordInput, request.data)
        user = services.user_signup(**data)
        return _auth_response(user, "User created successfully", status=201)


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthIPThrottle, LoginFailureThrottle]

    @extend_schema(tags=["auth"], request=EmailPasswordInput, responses={200: AuthOutput, **ERRORS})
    def post(self, request: Request) -> Response:
        data = validated(EmailPasswordInput, request.data)
        try:
            user = services.user_login(**data)
        except Unauthenticated:
            LoginFailureThrottle().record_failure(request)
            raise
        return _auth_response(user, "Login successful")


FORGOT_MESSAGE = "If an account exists with this email, a password reset link has been sent."


class ForgotPasswordView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PasswordResetThrottle, EmailAddressThrottle]

    @extend_schema(tags=["auth"], request=ForgotPasswordInput, responses={200: MessageOutput, **ERRORS})
    def post(self, request: Request) -> Response:
        data = validated(ForgotPasswordInput, request.data)
        services.password_reset_request(**data)
        return Response({"message": FORGOT_MESSAGE})


class ResetPasswordView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PasswordResetThrottle]

    @extend_schema(tags=["auth"], request=ResetPasswordInput, responses={200: MessageOutput, **ERRORS})
    def post(self, request: Request) -> Response:
        data = validated(ResetPasswordInput, request.data)
        services.password_reset_confirm(**data)
        return Response({"message": "Password reset successful. You can now login with your new password."})


class RefreshView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthIPThrottle]

    @extend_schema(tags=["auth"], request=RefreshInput, responses={200: RefreshOutput, **ERRORS})
    def post(self, request: Request) -> Response:
        data = validated(RefreshInput, request.data)
        return Response(services.tokens_refresh(**data))


class LogoutView(APIView):
    @extend_schema(
        tags=["auth"],
        request=RefreshInput,
        responses={200: MessageOutput, **ERRORS},
        summary="Revoke the refresh token",
    )
    def post(self, request: Request) -> Response:
        data = validated(RefreshInput, request.data)
        services.tokens_revoke(user=request.user, **data)
        return Response({"message": "Logout successful"})


class MeView(APIView):
    @extend_schema(tags=["auth"], responses={200: MeOutput, 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        user = selectors.user_with_wallets(user_id=request.user.pk)
        return Response({"user": UserOutput(user).data})


class WalletLinkView(APIView):
    throttle_classes = [AuthIPThrottle]

    @extend_schema(
        tags=["auth"],
        request=WalletProofInput,
        examples=[SIWE_EXAMPLE, STARKNET_EXAMPLE, BITCOIN_EXAMPLE],
        responses={201: WalletOutput, **WALLET_ERRORS, 409: ErrorSerializer},
        summary="Link a further wallet to the signed-in user (its own signed message)",
    )
    def post(self, request: Request) -> Response:
        data = validated(WalletProofInput, request.data)
        wallet = services.wallet_link(user=request.user, **data, request_host=request.get_host())
        return Response(WalletOutput(wallet).data, status=201)

    @extend_schema(tags=["auth"], responses={200: WalletOutput(many=True), 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        user = selectors.user_with_wallets(user_id=request.user.pk)
        return Response(WalletOutput(user.wallets.all(), many=True).data)


class VerifyEmailView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PasswordResetThrottle]

    @extend_schema(
        tags=["auth"],
        request=TokenInput,
        responses={200: MeOutput, **ERRORS, 409: ErrorSerializer},
        summary="Confirm an email address with the link's token",
    )
    def post(self, request: Request) -> Response:
        data = validated(TokenInput, request.data)
        user = services.email_verify(**data)
        return Response({"user": UserOutput(selectors.user_with_wallets(user_id=user.pk)).data})
