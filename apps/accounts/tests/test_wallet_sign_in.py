from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import SignInNonce, User, Wallet
from tests.helpers import Signer, assert_error_shape, fresh_nonce, wallet_sign_in

pytestmark = pytest.mark.django_db
URL = "/api/auth/wallet-connect"


def body(signer: Signer, message: str, signature: str | None = None, **extra) -> dict:
    data = {
        "wallet_address": signer.address,
        "wallet_type": "metamask",
        "message": message,
        "signature": signature if signature is not None else signer.sign(message),
    }
    return {**data, **extra}


def test_nonce_is_alphanumeric_single_use_and_short_lived(api_client):
    response = api_client.get("/api/auth/nonce")
    assert response.status_code == 200
    data = response.json()
    assert data["nonce"].isalnum()
    assert len(data["nonce"]) >= 8
    expires = datetime.fromisoformat(data["expires_at"])
    assert timedelta(minutes=1) < expires - datetime.now(tz=UTC) <= timedelta(minutes=10)
    assert fresh_nonce(api_client) != data["nonce"]


def test_siwe_sign_in_creates_the_user_once_and_returns_a_working_token(api_client, signer):
    first = wallet_sign_in(api_client, signer)
    assert first["message"] == "Wallet connected and user created"
    assert first["user"]["wallet_address"] == signer.address
    assert first["user"]["wallet_type"] == "metamask"
    for field in [
        "id",
        "email",
        "username",
        "first_name",
        "last_name",
        "avatar_url",
        "is_email_verified",
        "kyc_status",
        "referral_code",
        "settings",
        "created_at",
    ]:
        assert field in first["user"]
    assert first["token"]
    assert first["refresh"]

    second = wallet_sign_in(api_client, signer)
    assert second["message"] == "Wallet connected"
    assert second["user"]["id"] == first["user"]["id"]
    assert User.objects.count() == 1
    wallet = Wallet.objects.get()
    assert wallet.address == signer.address
    assert wallet.chain_kind == "evm"
    assert wallet.verified_at is not None

    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {second['token']}")
    response = me.get("/api/auth/me")
    assert response.status_code == 200
    assert response.json()["user"]["id"] == first["user"]["id"]
    assert User.objects.get().login_count == 2


def test_lowercase_address_is_stored_in_eip55_form(api_client, signer):
    nonce = fresh_nonce(api_client)
    message = signer.message(nonce=nonce)
    response = api_client.post(URL, body(signer, message, wallet_address=signer.address.lower()), format="json")
    assert response.status_code == 200, response.content
    assert response.json()["user"]["wallet_address"] == signer.address


def test_an_address_alone_never_yields_a_token(api_client, signer):
    response = api_client.post(URL, {"wallet_address": signer.address, "wallet_type": "metamask"}, format="json")
    assert_error_shape(response, 401, "signature_required")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("missing_signature", "signature_required"),
        ("wrong_domain", "domain_mismatch"),
        ("wrong_chain", "chain_not_allowed"),
        ("expired", "message_expired"),
        ("not_yet_valid", "message_not_yet_valid"),
        ("other_address", "address_mismatch"),
        ("bad_signature", "invalid_signature"),
        ("garbage_signature", "invalid_signature"),
        ("unknown_nonce", "invalid_nonce"),
        ("not_siwe", "invalid_message"),
    ],
)
def test_bad_proofs_are_refused_with_401(api_client, signer, case, code):
    nonce = fresh_nonce(api_client)
    other = Signer()
    message = signer.message(nonce=nonce)
    data = body(signer, message)
    if case == "missing_signature":
        data["signature"] = ""
    elif case == "wrong_domain":
        data = body(signer, signer.message(nonce=nonce, domain="evil.example"))
    elif case == "wrong_chain":
        data = body(signer, signer.message(nonce=nonce, chain_id=1))
    elif case == "expired":
        data = body(signer, signer.message(nonce=nonce, issued_at=datetime.now(tz=UTC) - timedelta(minutes=20)))
    elif case == "not_yet_valid":
        msg = (
            signer.message(nonce=nonce)
            + "\nNot Before: "
            + (datetime.now(tz=UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        data = body(signer, msg)
    elif case == "other_address":
        # A valid message and signature, but for another wallet than the one claimed.
        msg = other.message(nonce=nonce)
        data = body(signer, msg, signature=other.sign(msg))
    elif case == "bad_signature":
        data = body(signer, message, signature=other.sign(message))
    elif case == "garbage_signature":
        data = body(signer, message, signature="0x1234")
    elif case == "unknown_nonce":
        data = body(signer, signer.message(nonce="Zz9Zz9Zz9Zz9Zz9Zz9"))
    elif case == "not_siwe":
        data = body(signer, "please let me in")
    response = api_client.post(URL, data, format="json")
    assert_error_shape(response, 401, code)
    assert not User.objects.exists()
    assert response.json().get("token") is None


def test_a_nonce_works_once(api_client, signer):
    nonce = fresh_nonce(api_client)
    message = signer.message(nonce=nonce)
    data = body(signer, message)
    assert api_client.post(URL, data, format="json").status_code == 200
    replay = api_client.post(URL, data, format="json")
    assert_error_shape(replay, 401, "invalid_nonce")
    assert SignInNonce.objects.get(nonce=nonce).used_at is not None


def test_an_expired_nonce_is_refused(api_client, signer):
    nonce = fresh_nonce(api_client)
    SignInNonce.objects.filter(nonce=nonce).update(expires_at=datetime.now(tz=UTC) - timedelta(seconds=1))
    message = signer.message(nonce=nonce)
    assert_error_shape(api_client.post(URL, body(signer, message), format="json"), 401, "invalid_nonce")


def test_a_failed_attempt_does_not_burn_the_nonce(api_client, signer):
    nonce = fresh_nonce(api_client)
    message = signer.message(nonce=nonce)
    bad = api_client.post(URL, body(signer, message, signature=Signer().sign(message)), format="json")
    assert bad.status_code == 401
    assert api_client.post(URL, body(signer, message), format="json").status_code == 200


def test_configured_domains_replace_the_request_host(api_client, signer, settings):
    settings.SIWE_DOMAINS = ["app.engipay.example"]
    nonce = fresh_nonce(api_client)
    refused = api_client.post(URL, body(signer, signer.message(nonce=nonce)), format="json")
    assert_error_shape(refused, 401, "domain_mismatch")
    accepted = api_client.post(
        URL, body(signer, signer.message(nonce=nonce, domain="app.engipay.example")), format="json"
    )
    assert accepted.status_code == 200


@pytest.mark.parametrize("wallet_type", ["argent", "braavos"])
def test_starknet_sign_in_without_a_configured_starknet_network_is_a_clear_400(api_client, wallet_type):
    response = api_client.post(
        URL, {"wallet_address": "0x4a", "wallet_type": wallet_type, "message": "x", "signature": "0x00"}, format="json"
    )
    error = assert_error_shape(response, 400, "wallet_type_not_supported")
    assert "No Starknet network" in error["message"]


def test_a_bitcoin_wallet_must_sign_a_caip122_message(api_client):
    response = api_client.post(
        URL,
        {
            "wallet_address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
            "wallet_type": "xverse",
            "message": "x",
            "signature": "0x00",
        },
        format="json",
    )
    assert_error_shape(response, 401, "invalid_message")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"wallet_address": "0xabc", "wallet_type": "metamask", "message": "m", "signature": "0x00"},
        {"wallet_address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "wallet_type": "phantom"},
    ],
)
def test_bad_input_is_400(api_client, data):
    response = api_client.post(URL, data, format="json")
    assert_error_shape(response, 400)


def test_linking_a_second_wallet_needs_its_own_signature(api_client_for, alice, bob):
    client = api_client_for(alice)
    second = Signer()
    nonce = fresh_nonce(client)
    message = second.message(nonce=nonce)
    unsigned = client.post("/api/auth/wallets", body(second, message, signature=""), format="json")
    assert_error_shape(unsigned, 401, "signature_required")
    linked = client.post("/api/auth/wallets", body(second, message), format="json")
    assert linked.status_code == 201, linked.content
    assert linked.json()["address"] == second.address
    assert alice.wallets.count() == 2
    # The linked wallet now signs in to alice's account.
    assert wallet_sign_in(APIClient(), second)["user"]["id"] == str(alice.id)
    # Bob cannot take it over, even with a valid signature from that wallet.
    nonce = fresh_nonce(client)
    message = second.message(nonce=nonce)
    taken = api_client_for(bob).post("/api/auth/wallets", body(second, message), format="json")
    assert_error_shape(taken, 409, "wallet_in_use")


def test_linking_needs_a_signed_in_user(api_client, signer):
    nonce = fresh_nonce(api_client)
    response = api_client.post("/api/auth/wallets", body(signer, signer.message(nonce=nonce)), format="json")
    assert_error_shape(response, 401)


def test_the_frontends_domain_is_accepted_by_default(api_client, signer, settings):
    """The frontend proxies wallet-connect, so its users sign messages for FRONTEND_URL's host."""
    settings.FRONTEND_URL = "http://localhost:3000"
    nonce = fresh_nonce(api_client)
    response = api_client.post(URL, body(signer, signer.message(nonce=nonce, domain="localhost:3000")), format="json")
    assert response.status_code == 200, response.content


def test_an_oversized_message_is_refused_before_parsing(api_client, signer):
    nonce = fresh_nonce(api_client)
    message = signer.message(nonce=nonce).replace("Sign in to EngiPay", "x" * 5000)
    assert_error_shape(api_client.post(URL, body(signer, message), format="json"), 400, "invalid_input")
