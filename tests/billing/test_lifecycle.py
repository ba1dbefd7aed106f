"""Finalizing, numbering, immutability, voiding and credit notes."""

import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from prm.billing.models import DocumentSequence, Invoice
from prm.billing.services import credit_note_create, invoice_finalize, invoice_refresh_draft, invoice_void
from tests.billing.conftest import OCTOBER, at, close

FLAT = [{"model": "flat", "amount": "100"}]


@pytest.fixture
def drafts(world, make_plan, subscribe):
    """Four October drafts of 100 USD: three of A's customers' subscriptions and one of B's."""
    plan = make_plan("flat", FLAT)
    subscriptions = [
        subscribe(plan, external_id="sub_1"),
        subscribe(plan, external_id="sub_2"),
        subscribe(plan, customer=world.customer_a2, external_id="sub_3"),
        subscribe(plan, customer=world.customer_b1, external_id="sub_4"),
    ]
    return [invoice_refresh_draft(subscription=s, period=OCTOBER) for s in subscriptions]


def _sequence(number: str) -> int:
    match = re.fullmatch(r"INV-(\d{4})-(\d{6})", number)
    assert match, number
    assert int(match.group(1)) == timezone.now().year
    return int(match.group(2))


@pytest.mark.django_db
def test_finalize_needs_a_closed_period(drafts):
    with pytest.raises(ValidationError) as error:
        invoice_finalize(invoice=drafts[0])
    assert "not closed" in error.value.message_dict["period"][0]
    assert Invoice.objects.get(pk=drafts[0].pk).status == "draft"
    assert not DocumentSequence.objects.filter(last_number__gt=0).exists()


@pytest.mark.django_db
def test_finalize_numbers_gaplessly_and_is_idempotent(world, drafts):
    close()
    first = invoice_finalize(invoice=drafts[0])
    assert first.status == "finalized" and first.finalized_at is not None
    assert _sequence(first.number) == 1

    again = invoice_finalize(invoice=drafts[0])
    assert again.number == first.number and again.finalized_at == first.finalized_at
    assert DocumentSequence.objects.get(name="invoice").last_number == 1

    # A finalize that is rolled back (the surrounding transaction fails) takes no number for good.
    with pytest.raises(RuntimeError), transaction.atomic():
        assert _sequence(invoice_finalize(invoice=drafts[1]).number) == 2
        raise RuntimeError("the close crashed after numbering")
    assert Invoice.objects.get(pk=drafts[1].pk).status == "draft"
    assert Invoice.objects.get(pk=drafts[1].pk).number is None

    numbers = [_sequence(invoice_finalize(invoice=draft).number) for draft in drafts[1:]]
    assert numbers == [2, 3, 4]
    assert DocumentSequence.objects.get(name="invoice").last_number == 4


@pytest.mark.django_db
def test_finalize_rates_the_draft_one_last_time(world, make_plan, subscribe, send):
    plan = make_plan("api", [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.5"}])
    draft = invoice_refresh_draft(subscription=subscribe(plan), period=OCTOBER)
    assert draft.total == Decimal("0.00")
    send(("cus_a1", "api_calls", at(30), {"calls": 3}))  # arrived before the close
    close()
    assert invoice_finalize(invoice=draft).total == Decimal("1.50")


@pytest.mark.django_db
def test_a_finalized_invoice_is_immutable(world, drafts):
    close()
    invoice = invoice_finalize(invoice=drafts[0])
    with pytest.raises(ValidationError) as error:
        invoice_refresh_draft(subscription=invoice.subscription, period=OCTOBER)
    assert "immutable" in error.value.message_dict["status"][0]


@pytest.mark.django_db
def test_void_rules(world, drafts):
    draft = drafts[0]
    with pytest.raises(ValidationError) as error:
        invoice_void(actor=world.manager, invoice=draft, reason="wrong")
    assert "draft cannot be voided" in error.value.message_dict["status"][0]
    close()
    invoice = invoice_finalize(invoice=draft)
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        with pytest.raises(PermissionDenied):
            invoice_void(actor=user, invoice=invoice, reason="mine")
    with pytest.raises(ValidationError) as error:
        invoice_void(actor=world.manager, invoice=invoice, reason="  ")
    assert "reason" in error.value.message_dict

    voided = invoice_void(actor=world.manager, invoice=invoice, reason="billed in error")
    assert voided.status == "void" and voided.number == invoice.number and voided.void_reason == "billed in error"
    with pytest.raises(ValidationError):
        invoice_void(actor=world.manager, invoice=invoice, reason="again")
    with pytest.raises(ValidationError):
        invoice_refresh_draft(subscription=invoice.subscription, period=OCTOBER)
    with pytest.raises(ValidationError):
        invoice_finalize(invoice=invoice)


@pytest.mark.django_db
def test_credit_notes_partial_then_whole(world, drafts):
    close()
    invoice = invoice_finalize(invoice=drafts[0])
    first = credit_note_create(actor=world.manager, invoice=invoice, amount="30.004", reason="outage")
    assert first.amount == Decimal("30.00")  # rounded to the currency
    assert re.fullmatch(r"CN-\d{4}-000001", first.number)
    with pytest.raises(ValidationError) as error:
        credit_note_create(actor=world.manager, invoice=invoice, amount="70.01", reason="too much")
    message = error.value.message_dict["amount"][0]
    assert "70.01" in message and "70.00" in message, message
    second = credit_note_create(actor=world.manager, invoice=invoice, amount=Decimal("70"), reason="the rest")
    assert second.number.endswith("-000002")
    invoice.refresh_from_db()
    assert invoice.credited == Decimal("100.00") and invoice.creditable == 0
    with pytest.raises(ValidationError) as error:
        credit_note_create(actor=world.manager, invoice=invoice, amount="0.01", reason="more")
    assert "amount" in error.value.message_dict
    # Credited invoices are corrected by credit notes, not voided on top.
    with pytest.raises(ValidationError):
        invoice_void(actor=world.manager, invoice=invoice, reason="double refund")


@pytest.mark.django_db
def test_credit_note_refusals(world, drafts):
    with pytest.raises(ValidationError) as error:
        credit_note_create(actor=world.manager, invoice=drafts[0], amount="1", reason="draft")
    assert "finalized" in error.value.message_dict["invoice"][0]
    close()
    invoice = invoice_finalize(invoice=drafts[0])
    for amount in ("0", "-5", "0.004", "abc"):
        with pytest.raises(ValidationError) as error:
            credit_note_create(actor=world.manager, invoice=invoice, amount=amount, reason="x")
        assert "amount" in error.value.message_dict, amount
    with pytest.raises(PermissionDenied):
        credit_note_create(actor=world.admin_a, invoice=invoice, amount="1", reason="partner")
    assert not invoice.credit_notes.exists()
    assert not DocumentSequence.objects.filter(name="credit_note", last_number__gt=0).exists()
