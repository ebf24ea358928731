"""Helpers for tests: a wallet that signs like MetaMask, sign-in through the API, the error-shape check, staff users
signed in to the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.test import Client
from eth_account import Account
from eth_account.messages import encode_defunct
from rest_framework.test import APIClient

if TYPE_CHECKING:
    from apps.accounts.models import User


class Signer:
    """A wallet key that signs EIP-4361 messages the way MetaMask does (EIP-191 personal_sign)."""

    def __init__(self, account=None) -> None:
        self.account = account or Account.create()

    @property
    def address(self) -> str:
        return self.account.address

    def message(
        self,
        *,
        nonce: str,
        domain: str = "testserver",
        chain_id: int = 31337,
        address: str | None = None,
        expires_in: timedelta | None = timedelta(minutes=10),
        issued_at: datetime | None = None,
    ) -> str:
        issued = issued_at or datetime.now(tz=UTC)
        lines = [
            f"{domain} wants you to sign in with your Ethereum account:",
            address or self.address,
            "",
            "Sign in to EngiPay",
            "",
            f"URI: http://{domain}",
            "Version: 1",
            f"Chain ID: {chain_id}",
            f"Nonce: {nonce}",
            f"Issued At: {issued.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        ]
        if expires_in is not None:
            lines.append(f"Expiration Time: {(issued + expires_in).strftime('%Y-%m-%dT%H:%M:%SZ')}")
        return "\n".join(lines)

    def sign(self, message: str) -> str:
        return "0x" + self.account.sign_message(encode_defunct(text=message)).signature.hex().removeprefix("0x")


@dataclass
class Party:
    """A signed-in user, their wallet key and an API client with their token (on the ``local`` chain)."""

    user: Any
    signer: Signer
    client: APIClient
    token: str

    @property
    def address(self) -> str:
        return self.signer.address

    def sign(self, tx: dict[str, Any]) -> str:
        """Sign an unsigned transaction as the API prepares it (eth-account, like a wallet); the raw hex."""
        return "0x" + self.signer.account.sign_transaction(tx).raw_transaction.hex().removeprefix("0x")

    def prepare(self, **body: Any):
        return self.client.post("/api/transactions/prepare", {"network": "local", **body}, format="json")

    def broadcast(self, **body: Any):
        return self.client.post("/api/transactions/broadcast", {"network": "local", **body}, format="json")

    def send(self, *, to: str, amount: str, asset: str = "ETH") -> dict[str, Any]:
        """prepare → sign with eth-account → broadcast; the broadcast response body."""
        prepared = self.prepare(asset=asset, to_address=to, amount=amount)
        assert prepared.status_code == 200, prepared.content
        signed = self.sign(prepared.json()["transaction"])
        response = self.broadcast(asset=asset, to_address=to, amount=amount, signed_transaction=signed)
        assert response.status_code == 201, response.content
        return response.json()

    def status(self, tx_hash: str):
        return self.client.get(f"/api/transactions/{tx_hash}/status")


def fresh_nonce(client: APIClient) -> str:
    response = client.get("/api/auth/nonce")
    assert response.status_code == 200, response.content
    return response.json()["nonce"]


def wallet_sign_in(client: APIClient, signer: Signer, wallet_type: str = "metamask") -> dict:
    message = signer.message(nonce=fresh_nonce(client))
    response = client.post(
        "/api/auth/wallet-connect",
        {
            "wallet_address": signer.address,
            "wallet_type": wallet_type,
            "message": message,
            "signature": signer.sign(message),
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def assert_error_shape(response, status: int | None = None, code: str | None = None) -> dict:
    if status is not None:
        assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["code"], str)
    assert body["error"]["code"]
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def snip12_sign_in(
    *,
    address: str,
    nonce: str,
    chain_id: str = "SN_SEPOLIA",
    domain: str = "testserver",
    name: str = "EngiPay",
    expires_in: timedelta = timedelta(minutes=10),
) -> dict:
    """The SNIP-12 (revision 1) sign-in typed data a Starknet wallet signs for EngiPay."""
    now = datetime.now(tz=UTC)
    return {
        "types": {
            "StarknetDomain": [
                {"name": "name", "type": "shortstring"},
                {"name": "version", "type": "shortstring"},
                {"name": "chainId", "type": "shortstring"},
                {"name": "revision", "type": "shortstring"},
            ],
            "SignIn": [
                {"name": "domain", "type": "string"},
                {"name": "address", "type": "ContractAddress"},
                {"name": "nonce", "type": "shortstring"},
                {"name": "issuedAt", "type": "timestamp"},
                {"name": "expirationTime", "type": "timestamp"},
            ],
        },
        "primaryType": "SignIn",
        "domain": {"name": name, "version": "1", "chainId": chain_id, "revision": "1"},
        "message": {
            "domain": domain,
            "address": address,
            "nonce": nonce,
            "issuedAt": int(now.timestamp()),
            "expirationTime": int((now + expires_in).timestamp()),
        },
    }


BIP122 = {"regtest": "bip122:0f9188f13cb7b2c71f2a335e3a4fc328", "mainnet": "bip122:000000000019d6689c085ae165831e93"}


def caip122_bitcoin_message(
    *,
    address: str,
    nonce: str,
    network: str = "regtest",
    domain: str = "testserver",
    expires_in: timedelta | None = timedelta(minutes=10),
) -> str:
    """The CAIP-122 sign-in text a Bitcoin wallet (Xverse) signs for EngiPay."""
    issued = datetime.now(tz=UTC)
    lines = [
        f"{domain} wants you to sign in with your Bitcoin account:",
        address,
        "",
        "Sign in to EngiPay",
        "",
        f"URI: http://{domain}",
        "Version: 1",
        f"Chain ID: {BIP122[network]}",
        f"Nonce: {nonce}",
        f"Issued At: {issued.strftime('%Y-%m-%dT%H:%M:%SZ')}",
    ]
    if expires_in is not None:
        lines.append(f"Expiration Time: {(issued + expires_in).strftime('%Y-%m-%dT%H:%M:%SZ')}")
    return "\n".join(lines)


def staff_user(email: str, *groups: str, **extra) -> User:
    """A staff user in the named groups (as their migrations left them), with a password for the admin sign-in."""
    from django.contrib.auth.models import Group

    from apps.accounts.models import User

    user = User.objects.create_user(email=email, password="pw-for-tests-only", **extra)
    user.is_staff = True
    user.save()
    user.groups.set(Group.objects.filter(name__in=groups))
    return user


def logged_in_client(user: User) -> Client:
    """A Django test client signed in as ``user`` (for the admin)."""
    client = Client()
    client.force_login(user)
    return client
