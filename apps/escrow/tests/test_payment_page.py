"""The public payment page of an escrow (``/pay/escrow/<id>``, the payment_link): no sign-in, the terms and the
state, nothing private, never cached or indexed."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.test import Client

from apps.escrow.models import Escrow
from apps.escrow.services.escrows import escrow_create, payment_link

from .test_disputes import indexed, make_dispute


@pytest.fixture
def page(db) -> Client:
    return Client()  # anonymous


def created_through_the_api(w3, sender, recipient, *, memo: str) -> Escrow:
    """An escrow prepared by the service (the row keeps the memo), signed with the sender's key, sent, indexed."""
    prepared = escrow_create(
        user=sender.user, recipient=recipient.address, amount=Decimal("0.25"), asset="ETH", network="local", memo=memo
    )
    for step in prepared.action.transactions:
        raw = sender.sign(step["transaction"])
        assert w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw), timeout=30)["status"] == 1
    return indexed(prepared.escrow.onchain_id)


def assert_private(response) -> None:
    assert response["Cache-Control"] == "no-store"
    assert "noindex" in response["X-Robots-Tag"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_the_page_shows_a_pending_escrow(escrow_chain, anvil_w3, party, page):
    sender, recipient = party(), party()
    escrow = created_through_the_api(anvil_w3, sender, recipient, memo="Invoice #42 <b>web design</b>")
    assert escrow.status == "pending"
    assert payment_link(escrow).endswith(f"/pay/escrow/{escrow.id}")
    response = page.get(f"/pay/escrow/{escrow.id}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert_private(response)
    html = response.content.decode()
    assert '<div class="amount" id="amount">0.25 ETH</div>' in html
    assert 'data-status="pending"' in html
    assert "Invoice #42 &lt;b&gt;web design&lt;/b&gt;" in html  # escaped
    assert "matches the memo hash on chain" in html
    assert 'id="instructions"' in html
    assert "accepts this payment from the EngiPay app" in html
    assert "Local anvil" in html
    assert escrow_chain.address in html
    assert escrow.onchain_id in html
    assert f"{sender.address[:6]}…{sender.address[-4:]}" in html
    assert f"{recipient.address[:6]}…{recipient.address[-4:]}" in html
    assert escrow.expires_at.strftime("%Y-%m-%d %H:%M") in html
    # Nothing private: no full addresses of the parties, no user ids or emails, no salt.
    for secret in (sender.address, recipient.address, escrow.salt, f'"{sender.user.pk}"'):
        assert secret not in html
    assert "@" not in html


def test_a_memo_that_does_not_match_the_chain_is_flagged(escrow_chain, anvil_w3, party, page):
    escrow = created_through_the_api(anvil_w3, party(), party(), memo="Original")
    Escrow.objects.filter(pk=escrow.pk).update(memo="Tampered")
    html = page.get(f"/pay/escrow/{escrow.id}").content.decode()
    assert "does not match the memo hash on chain" in html


def test_a_disputed_escrow_shows_its_state_without_the_accept_instruction(
    escrow_chain, anvil_w3, party, page, settings, tmp_path
):
    settings.ESCROW_PRIVATE_ROOT = str(tmp_path)
    dispute = make_dispute(anvil_w3, escrow_chain, party)
    response = page.get(f"/pay/escrow/{dispute.escrow.id}")
    html = response.content.decode()
    assert 'data-status="disputed"' in html
    assert "funds frozen until the resolver decides" in html
    assert 'id="instructions"' not in html
    assert 'id="memo"' not in html  # found on chain: EngiPay never saw its memo


def test_a_pending_escrow_past_its_expiry_shows_as_expired(escrow_chain, anvil_w3, party, page):
    escrow = created_through_the_api(anvil_w3, party(), party(), memo="")
    Escrow.objects.filter(pk=escrow.pk).update(expires_at="2001-01-01T00:00:00Z")
    html = page.get(f"/pay/escrow/{escrow.id}").content.decode()
    assert 'data-status="expired"' in html
    assert 'id="instructions"' not in html


def test_an_escrow_not_yet_on_chain_has_no_onchain_id(escrow_chain, party, page):
    sender, recipient = party(), party()
    prepared = escrow_create(
        user=sender.user, recipient=recipient.address, amount=Decimal("0.1"), asset="ETH", network="local"
    )
    html = page.get(f"/pay/escrow/{prepared.escrow.id}").content.decode()
    assert 'data-status="awaiting_signature"' in html
    assert prepared.escrow.onchain_id not in html


@pytest.mark.parametrize("escrow_id", [str(uuid.uuid4()), "escrow_123", "not-a-uuid%3Cscript%3E"])
def test_an_unknown_escrow_is_a_404_page(page, escrow_id):
    response = page.get(f"/pay/escrow/{escrow_id}")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert_private(response)
    html = response.content.decode()
    assert "Escrow not found" in html
    assert "<script>" not in html


def test_the_page_only_answers_reads(escrow_chain, anvil_w3, party, page):
    escrow = created_through_the_api(anvil_w3, party(), party(), memo="")
    assert page.post(f"/pay/escrow/{escrow.id}").status_code == 405
    assert page.head(f"/pay/escrow/{escrow.id}").status_code == 200
