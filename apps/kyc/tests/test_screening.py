"""AML screening through the public surface: linking and signing in with a wallet, address forms, the
Chainalysis-style API (a local double speaking its REST shape) and the reviewers' case transitions. Transfers to
sanctioned addresses are tested with the transactions app (apps/transactions/tests/test_sanctioned_recipients.py),
which sits above kyc."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction
from eth_account import Account
from rest_framework.test import APIClient

from apps.accounts.models import User, Wallet
from apps.kyc.models import AmlCase, KycAuditEvent
from apps.kyc.services.sanctions import address_normalize, sanctions_list_import
from apps.kyc.services.screening import address_screen, aml_case_clear, aml_case_confirm
from engipay.api.errors import ApplicationError, Forbidden
from tests.doubles.chainalysis import ChainalysisDouble
from tests.helpers import Signer, fresh_nonce

from .sdn_files import FIXTURE, assert_sanctioned, sanction

DEMO_ETH = "0x966757F48E76dBE9B1B95EB5A494A6fa4Ee0c3a6"  # in fixtures/sanctions/sdn_demo.csv
DEMO_XBT = "1DAVBbe5Vuiz84BYDpfv1JRenPoAPvny1G"
DEMO_BECH32 = "bc1qhmzs3urq90gsvttytw2wusj3rnlnk69yxxhj2s"


def _wallet_body(signer: Signer, client: APIClient) -> dict:
    message = signer.message(nonce=fresh_nonce(client))
    return {
        "wallet_address": signer.address,
        "wallet_type": "metamask",
        "message": message,
        "signature": signer.sign(message),
    }


# --- Wallets (the accounts hook), in real transactions: the case must outlive the refused request's rollback ---


@pytest.mark.django_db(transaction=True)
def test_linking_a_sanctioned_wallet_is_refused_and_the_case_survives(tmp_path, api_client_for, alice, caplog):
    sanctioned = Signer()
    sanctions_list = sanction(tmp_path, ("ETH", sanctioned.address.lower()))
    client = api_client_for(alice)
    with caplog.at_level(logging.WARNING, logger="apps.kyc.services.screening"):
        response = client.post("/api/auth/wallets", _wallet_body(sanctioned, client), format="json")
    assert_sanctioned(response)
    assert not Wallet.objects.filter(address=sanctioned.address).exists()
    case = AmlCase.objects.get()
    expected = (alice, sanctioned.address, address_normalize(sanctioned.address))  # 0x0ab… compares as 0xab…
    assert (case.user, case.address, case.normalized) == expected
    assert (case.context, case.source, case.status, case.chain_kind) == ("wallet_link", "ofac_sdn", "open", "evm")
    assert case.sanctions_list == sanctions_list
    assert case.match["list_sha256"] == sanctions_list.sha256
    assert case.match["entry_name"] == "FICTIONAL TEST ENTITY"
    event = KycAuditEvent.objects.get(aml_case=case)
    assert (event.action, event.actor) == (KycAuditEvent.Action.AML_HIT, None)
    assert any("AML hit" in r.getMessage() and sanctioned.address in r.getMessage() for r in caplog.records)

    again = client.post("/api/auth/wallets", _wallet_body(sanctioned, client), format="json")
    assert_sanctioned(again)
    assert AmlCase.objects.count() == 1  # the open case is reused; each attempt is one more audit event
    assert KycAuditEvent.objects.filter(aml_case=case, action=KycAuditEvent.Action.AML_HIT).count() == 2


@pytest.mark.django_db(transaction=True)
def test_signing_up_with_a_sanctioned_wallet_is_refused_and_creates_no_user(tmp_path, api_client):
    sanctioned = Signer()
    sanction(tmp_path, ("ETH", sanctioned.address))
    users_before = User.objects.count()
    response = api_client.post("/api/auth/wallet-connect", _wallet_body(sanctioned, api_client), format="json")
    assert_sanctioned(response)
    assert User.objects.count() == users_before
    assert not Wallet.objects.filter(address=sanctioned.address).exists()
    case = AmlCase.objects.get()
    assert (case.user, case.context, case.address) == (None, "wallet_sign_in", sanctioned.address)


@pytest.mark.django_db
def test_a_clean_wallet_still_links_and_signs_in(tmp_path, api_client_for, alice):
    sanction(tmp_path, ("ETH", DEMO_ETH))
    client = api_client_for(alice)
    clean = Signer()
    response = client.post("/api/auth/wallets", _wallet_body(clean, client), format="json")
    assert response.status_code == 201, response.content
    assert not AmlCase.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_screening_inside_a_callers_transaction_still_blocks_and_says_so(tmp_path, alice, caplog):
    sanction(tmp_path, ("ETH", DEMO_ETH))
    with (
        caplog.at_level(logging.ERROR, logger="apps.kyc.services.screening"),
        pytest.raises(Forbidden),
        transaction.atomic(),
    ):
        address_screen(user=alice, address=DEMO_ETH, chain_kind="evm", context="wallet_link")
    assert any("inside an open transaction" in r.getMessage() for r in caplog.records)


# --- Address forms ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("listed_padded", [False, True], ids=["listed-unpadded", "listed-padded"])
def test_starknet_felts_match_with_or_without_leading_zeros(alice, tmp_path, listed_padded):
    felt = "4c0a5193d58f74fbace4b74dcf65481e734ed1714121bdc571da345540efa05"  # 63 hex digits
    listed = "0x" + (felt.rjust(64, "0") if listed_padded else felt)
    sanction(tmp_path, ("STRK", listed))
    for spelling in ("0x" + felt.rjust(64, "0"), "0x" + felt, "0x" + felt.upper().rjust(64, "0")):
        with pytest.raises(Forbidden):
            address_screen(user=alice, address=spelling, chain_kind="starknet", context="transaction_prepare")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "spelling",
    [DEMO_ETH, DEMO_ETH.lower(), "0x" + DEMO_ETH[2:].upper(), f"  {DEMO_ETH}  "],
    ids=["checksummed", "lower", "upper", "whitespace"],
)
def test_evm_addresses_are_blocked_whatever_their_case(alice, spelling):
    sanctions_list_import(path=FIXTURE)
    with pytest.raises(Forbidden) as refused:
        address_screen(user=alice, address=spelling, chain_kind="evm", context="transaction_prepare")
    assert refused.value.code == "sanctioned_address"
    assert AmlCase.objects.get().normalized == DEMO_ETH.lower()


@pytest.mark.django_db
def test_evm_addresses_listed_in_lower_case_match_the_checksummed_spelling(tmp_path, alice):
    target = Account.create().address
    sanction(tmp_path, ("USDT", target.lower()))  # any ticker carrying an 0x address is EVM
    with pytest.raises(Forbidden):
        address_screen(user=alice, address=target, chain_kind="evm", context="transaction_prepare")


@pytest.mark.django_db
def test_base58_bitcoin_addresses_match_exactly(alice):
    sanctions_list_import(path=FIXTURE)
    with pytest.raises(Forbidden):
        address_screen(user=alice, address=DEMO_XBT, chain_kind="bitcoin", context="transaction_prepare")
    assert address_screen(user=alice, address=DEMO_XBT.swapcase(), chain_kind="bitcoin", context="x") is None
    assert AmlCase.objects.count() == 1


@pytest.mark.django_db
def test_bech32_bitcoin_addresses_match_in_either_case(alice):
    sanctions_list_import(path=FIXTURE)
    for spelling in (DEMO_BECH32, DEMO_BECH32.upper()):
        with pytest.raises(Forbidden):
            address_screen(user=alice, address=spelling, chain_kind="bitcoin", context="transaction_prepare")
    assert AmlCase.objects.get().normalized == DEMO_BECH32


@pytest.mark.django_db
def test_without_a_list_or_api_nothing_is_blocked(alice):
    assert address_screen(user=alice, address=DEMO_ETH, chain_kind="evm", context="transaction_prepare") is None


@pytest.mark.django_db
def test_a_new_list_reloaded_after_linking_opens_a_case_for_the_linked_wallet(tmp_path, alice):
    wallet = alice.wallets.get()
    sanction(tmp_path, ("ETH", wallet.address.lower()))
    case = AmlCase.objects.get()
    assert (case.user, case.context, case.status) == (alice, "list_rescreen", "open")


# --- The Chainalysis-style API ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_api_hit_blocks_with_source_chainalysis(chainalysis, api_client_for, alice):
    sanctioned = Signer()
    chainalysis.sanction(sanctioned.address, name="SANCTIONS: OFAC SDN TEST DOUBLE")
    client = api_client_for(alice)
    assert_sanctioned(client.post("/api/auth/wallets", _wallet_body(sanctioned, client), format="json"))
    assert not Wallet.objects.filter(address=sanctioned.address).exists()
    case = AmlCase.objects.get()
    assert (case.source, case.context, case.sanctions_list) == ("chainalysis", "wallet_link", None)
    assert case.match["identifications"][0]["category"] == "sanctions"
    assert chainalysis.requests[-1] == sanctioned.address


@pytest.mark.django_db
def test_an_api_miss_lets_the_address_through(chainalysis, alice):
    chainalysis.clear()  # forget alice's own sign-up screening
    assert address_screen(user=alice, address=DEMO_ETH, chain_kind="evm", context="transaction_prepare") is None
    assert chainalysis.requests == [DEMO_ETH]


@pytest.mark.django_db
def test_a_list_hit_does_not_need_the_api(chainalysis, alice):
    chainalysis.clear()
    sanctions_list_import(path=FIXTURE)
    with pytest.raises(Forbidden):
        address_screen(user=alice, address=DEMO_ETH, chain_kind="evm", context="transaction_prepare")
    assert chainalysis.requests == []
    assert AmlCase.objects.get().source == "ofac_sdn"


@pytest.mark.django_db
def test_an_api_outage_falls_back_to_the_list(settings, alice, caplog):
    with ChainalysisDouble(api_key="test-key") as double:
        url = double.url
        double.sanction(Account.create().address)
    settings.CHAINALYSIS_API_URL, settings.CHAINALYSIS_API_KEY = url, "test-key"  # nothing listens there now
    sanctions_list_import(path=FIXTURE)
    with caplog.at_level(logging.WARNING, logger="apps.kyc.services.screening"):
        assert address_screen(user=alice, address=Account.create().address, chain_kind="evm", context="x") is None
        with pytest.raises(Forbidden):
            address_screen(user=alice, address=DEMO_ETH, chain_kind="evm", context="transaction_prepare")
    assert any("Chainalysis API failed" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_a_refused_api_key_falls_back_to_the_list(chainalysis, settings, alice):
    settings.CHAINALYSIS_API_KEY = "wrong-key"
    target = Account.create().address
    chainalysis.sanction(target)
    assert address_screen(user=alice, address=target, chain_kind="evm", context="transaction_prepare") is None


# --- Reviewers --------------------------------------------------------------------------------------------------


def _open_case(user) -> AmlCase:
    sanctions_list_import(path=FIXTURE)
    with pytest.raises(Forbidden):
        address_screen(user=user, address=DEMO_ETH, chain_kind="evm", context="transaction_prepare")
    return AmlCase.objects.get()


@pytest.mark.django_db
def test_clearing_a_case_records_the_reviewer_and_lets_the_same_match_through(alice, bob):
    case = aml_case_clear(case=_open_case(alice), reviewer=bob, note="Our own hot wallet, listed by mistake.")
    assert (case.status, case.resolved_by, case.resolution_note) == (
        "cleared",
        bob,
        "Our own hot wallet, listed by mistake.",
    )
    assert case.resolved_at is not None
    event = KycAuditEvent.objects.get(aml_case=case, action=KycAuditEvent.Action.AML_CLEARED)
    assert (event.actor, event.details["from"], event.details["to"]) == (bob, "open", "cleared")
    assert address_screen(user=alice, address=DEMO_ETH, chain_kind="evm", context="transaction_prepare") is None
    with pytest.raises(Forbidden):  # cleared for alice only
        address_screen(user=bob, address=DEMO_ETH, chain_kind="evm", context="transaction_prepare")


@pytest.mark.django_db
def test_confirming_a_case_keeps_the_address_blocked(alice, bob):
    case = aml_case_confirm(case=_open_case(alice), reviewer=bob, note="Matches the SDN entry.")
    assert case.status == "confirmed"
    assert KycAuditEvent.objects.filter(aml_case=case, action=KycAuditEvent.Action.AML_CONFIRMED, actor=bob).exists()
    with pytest.raises(Forbidden):
        address_screen(user=alice, address=DEMO_ETH, chain_kind="evm", context="transaction_prepare")
    assert AmlCase.objects.filter(user=alice, status="open").count() == 1  # a new attempt opens a new case


@pytest.mark.django_db
@pytest.mark.parametrize("resolve", [aml_case_clear, aml_case_confirm])
def test_a_resolved_case_cannot_be_resolved_again(alice, bob, resolve):
    case = aml_case_confirm(case=_open_case(alice), reviewer=bob, note="Confirmed.")
    with pytest.raises(ApplicationError) as conflict:
        resolve(case=case, reviewer=bob, note="Again.")
    assert (conflict.value.status_code, conflict.value.code) == (409, "aml_case_not_open")


@pytest.mark.django_db
def test_resolving_needs_a_note(alice, bob):
    with pytest.raises(ApplicationError) as refused:
        aml_case_clear(case=_open_case(alice), reviewer=bob, note="  ")
    assert (refused.value.status_code, refused.value.code) == (400, "note_required")
    assert AmlCase.objects.get().status == "open"


@pytest.mark.django_db(transaction=True)
def test_a_wallet_listed_after_sign_up_cannot_sign_in_again(tmp_path, api_client):
    listed_later = Signer()
    first = api_client.post("/api/auth/wallet-connect", _wallet_body(listed_later, api_client), format="json")
    assert first.status_code == 200, first.content
    sanction(tmp_path, ("ETH", listed_later.address))
    again = api_client.post("/api/auth/wallet-connect", _wallet_body(listed_later, api_client), format="json")
    assert_sanctioned(again)
    # The list import's re-screen opened the case; the refused sign-in is one more hit on it.
    case = AmlCase.objects.get()
    assert str(case.user.pk) == first.json()["user"]["id"]
    assert case.audit_events.filter(action=KycAuditEvent.Action.AML_HIT, details__context="wallet_sign_in").exists()
