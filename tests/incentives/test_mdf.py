"""Market development funds: eligibility, budget enforcement (exact), claims with proof, payment,
scope, notifications, bad input and the pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from prm.incentives import mdf
from prm.incentives.models import MdfBudget, MdfRequest, MdfStatus
from prm.notifications.models import Notification
from prm.partners.models import Tier

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%proof\n"


def login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def gold(world, settings, tmp_path):
    """Partner A moved to an MDF-eligible Gold tier with a 10,000.00 USD budget this quarter (B stays Registered)."""
    settings.MEDIA_ROOT = tmp_path
    tier = Tier.objects.create(code="gold", name="Gold", rank=3, mdf_eligible=True)
    world.partner_a.tier = tier
    world.partner_a.save()
    world.admin_a.refresh_from_db()
    quarter = mdf.quarter_of(timezone.now())
    budget = mdf.mdf_budget_save(
        actor=world.manager, tier=tier, period=quarter, amount=Decimal("10000"), currency="USD"
    )
    return budget


@pytest.fixture
def ask(client, gold):
    """ask(amount, **fields) → the API's answer to partner A's admin requesting funds."""

    def _ask(user, amount, **fields):
        body = {"activity": f"Webinar {amount}", "activity_type": "webinar", "activity_date": timezone.now().date()
                .isoformat(), "amount": amount, **fields}  # fmt: skip
        return login(client, user).post("/api/v1/mdf-requests/", body, content_type="application/json")

    return _ask


def _post(client, user, pk, action, body=None, **kwargs):
    login(client, user)
    kwargs.setdefault("content_type", "application/json")
    if kwargs["content_type"] is None:
        del kwargs["content_type"]  # multipart: the test client's default
    return client.post(f"/api/v1/mdf-requests/{pk}/{action}/", body or {}, **kwargs)


@pytest.mark.django_db
def test_only_mdf_eligible_tiers_request_funds(world, ask, client):
    response = ask(world.admin_b, "500.00")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Market development funds are a benefit of the Gold tier(s); Beta Partners is in the Registered tier."
    )
    # Reps, customers and managers do not request.
    for user in (world.rep_a, world.customer_user_a1, world.manager):
        assert ask(user, "500.00").status_code == 403
    assert not MdfRequest.objects.exists()
    created = ask(world.admin_a, "500.00")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["status"], body["amount"], body["currency"], body["period"]) == (
        "requested",
        "500.00",
        "USD",
        mdf.quarter_of(timezone.now()),
    )


@pytest.mark.django_db
def test_approval_never_takes_a_budget_past_its_amount(world, ask, client, gold):
    first = ask(world.admin_a, "6000.00").json()["id"]
    second = ask(world.admin_a, "3000.00").json()["id"]
    third = ask(world.admin_a, "1500.00").json()["id"]
    assert _post(client, world.manager, first, "approve").status_code == 200
    assert _post(client, world.manager, second, "approve").status_code == 200
    # Budget 10,000.00; committed 6,000.00 + 3,000.00 = 9,000.00; remaining 1,000.00 < 1,500.00.
    refused = _post(client, world.manager, third, "approve")
    assert refused.status_code == 400
    assert refused.json()["amount"] == [
        "Approving 1500.00 USD would exceed the budget: the Gold tier's MDF budget for "
        f"{gold.period} is 10000.00 USD, of which 9000.00 USD is committed (approved or claimed): "
        "1000.00 USD remaining."
    ]
    assert MdfRequest.objects.get(pk=third).status == MdfStatus.REQUESTED
    # The first activity came in under budget: claimed 4,999.50 of its 6,000.00.
    claimed = _post(
        client, world.admin_a, first, "claim", {"claimed_amount": "4999.50", "proof_url": "https://ex.com/r"}
    )
    assert claimed.status_code == 200, claimed.json()
    # Committed: 4,999.50 + 3,000.00 = 7,999.50; remaining 2,000.50 ≥ 1,500.00.
    assert mdf.budget_figures(gold).remaining == Decimal("2000.50")
    assert _post(client, world.manager, third, "approve").status_code == 200
    figures = mdf.budget_figures(gold)
    assert (figures.committed, figures.remaining) == (Decimal("9499.50"), Decimal("500.50"))
    # A budget is not set below what it committed.
    with pytest.raises(Exception, match="9499.50 USD is already committed"):
        mdf.mdf_budget_save(actor=world.manager, budget=gold, amount=Decimal("9000"))


@pytest.mark.django_db
def test_approval_needs_a_budget_for_the_quarter(world, ask, client, gold):
    next_quarter_day = (timezone.now() + timedelta(days=100)).date()
    pk = ask(world.admin_a, "100.00", activity_date=next_quarter_day.isoformat()).json()["id"]
    response = _post(client, world.manager, pk, "approve")
    assert response.status_code == 400
    assert response.json()["budget"] == [
        f"No MDF budget is set for the Gold tier in {mdf.quarter_of(next_quarter_day)}; set one first."
    ]


@pytest.mark.django_db
def test_the_whole_flow_with_notifications(world, ask, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        pk = ask(world.admin_a, "2500.00").json()["id"]
    assert Notification.objects.get(kind="mdf.requested").recipient == world.manager
    assert _post(client, world.admin_a, pk, "approve").status_code == 403  # partners do not approve
    body = _post(client, world.manager, pk, "approve", {"reason": "Good plan"}).json()
    assert (body["status"], body["reason"], body["decided_by"]) == ("approved", "Good plan", "manager@test.example")
    assert Notification.objects.get(kind="mdf.status_changed").recipient == world.admin_a
    upload = SimpleUploadedFile("receipt.png", PNG, content_type="image/png")
    response = _post(client, world.admin_a, pk, "claim", {"proof_file": upload, "proof_note": "Invoice attached"},
                     content_type=None)  # fmt: skip
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["claimed_amount"], body["has_proof_file"]) == ("claimed", "2500.00", True)
    request = MdfRequest.objects.get(pk=pk)
    assert request.proof_file.name.endswith(".png") and "receipt" not in request.proof_file.name
    assert Notification.objects.filter(kind="mdf.claimed", recipient=world.manager).exists()
    paid = _post(client, world.manager, pk, "paid", {"reference": "TRX-42"})
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    assert Notification.objects.filter(kind="mdf.status_changed", recipient=world.admin_a).count() == 2
    # The proof is downloaded by those who see the request, never shown inline.
    download = login(client, world.admin_a).get(reverse("mdf_request_proof", args=[pk]))
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == PNG
    assert login(client, world.admin_b).get(reverse("mdf_request_proof", args=[pk])).status_code == 404
    # Steps out of order are refused.
    assert _post(client, world.manager, pk, "approve").json()["status"] == [
        "Only requested requests can be approved; this one is paid."
    ]


@pytest.mark.django_db
def test_rejection_needs_a_reason(world, ask, client):
    pk = ask(world.admin_a, "100.00").json()["id"]
    assert _post(client, world.manager, pk, "reject").json() == {"reason": ["This field is required."]}
    response = _post(client, world.manager, pk, "reject", {"reason": "Not a marketing activity"})
    assert response.json()["status"] == "rejected"
    assert _post(client, world.admin_a, pk, "claim", {"proof_url": "https://ex.com"}).status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "proof_file", "Attach proof"),
        ({"proof_url": "javascript:alert(1)"}, "proof_url", "A web address"),
        ({"proof_file": ("notes.txt", b"just text")}, "proof_file", "PDF, PNG or JPEG"),
        ({"proof_file": ("fake.pdf", b"<html><script>alert(1)</script>")}, "proof_file", "PDF, PNG or JPEG"),
        ({"proof_file": ("big.pdf", PDF + b"0" * (5 * 1024 * 1024))}, "proof_file", "larger than 5 MB"),
        ({"proof_url": "https://ex.com", "claimed_amount": "2500.01"}, "claimed_amount", "At most the approved"),
        ({"proof_url": "https://ex.com", "claimed_amount": "1.001"}, "claimed_amount", "more decimals"),
    ],
)
def test_claims_need_proof_of_the_right_kind(world, ask, client, body, field, words):
    pk = ask(world.admin_a, "2500.00").json()["id"]
    _post(client, world.manager, pk, "approve")
    data = {
        key: SimpleUploadedFile(value[0], value[1]) if key == "proof_file" else value for key, value in body.items()
    }
    response = (
        _post(client, world.admin_a, pk, "claim", data, content_type=None)
        if data
        else _post(client, world.admin_a, pk, "claim", {})
    )
    assert response.status_code == 400, response.json()
    assert words in " ".join(response.json()[field])
    request = MdfRequest.objects.get(pk=pk)
    assert request.status == MdfStatus.APPROVED and not request.proof_file


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"amount": "12.345"}, "amount", "more decimals than USD"),
        ({"amount": "-5"}, "amount", "above zero"),
        ({"amount": "lots"}, "amount", "Give an amount"),
        ({"activity": " "}, "activity", "may not be blank"),
        ({"activity_date": "2020-01-15"}, "activity_date", "past quarter"),
        ({"currency": "XXX"}, "currency", "Unknown currency"),
        ({"currency": "EUR"}, "currency", "is in USD"),
        ({"activity_type": "party"}, "activity_type", "not a valid choice"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(world, ask, fields, field, words):
    response = ask(world.admin_a, fields.pop("amount", "100.00"), **fields)
    assert response.status_code == 400, response.json()
    assert words in " ".join(response.json()[field]), response.json()
    assert not MdfRequest.objects.exists()


@pytest.mark.django_db
def test_requests_are_the_partner_admins(world, ask, client):
    pk = ask(world.admin_a, "100.00").json()["id"]
    for user, ids in ((world.admin_a, {pk}), (world.manager, {pk}), (world.rep_a, set()), (world.admin_b, set()),
                      (world.customer_user_a1, set())):  # fmt: skip
        listing = login(client, user).get("/api/v1/mdf-requests/").json()
        assert {row["id"] for row in listing["results"]} == ids, user.email
    assert login(client, world.admin_b).get(f"/api/v1/mdf-requests/{pk}/").status_code == 404
    assert _post(client, world.admin_b, pk, "claim", {"proof_url": "https://ex.com"}).status_code == 404


# --- pages ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_mdf_pages(world, ask, client, gold):
    pk = ask(world.admin_a, "2500.00").json()["id"]
    login(client, world.manager)
    assert "Webinar 2500.00" in client.get(reverse("mdf_request_list")).content.decode()
    page = client.get(reverse("mdf_request_detail", args=[pk])).content.decode()
    assert "10000.00 USD" in page and "Approve" in page
    client.post(reverse("mdf_request_approve", args=[pk]), {"approve-reason": ""})
    budgets = client.get(reverse("mdf_budget_list")).content.decode()
    assert "2500.00" in budgets and "7500.00" in budgets  # committed, remaining
    response = client.post(reverse("mdf_budget_create"), {"tier": gold.tier.pk, "period": "2031-Q1", "amount": "500",
                                                          "currency": "USD", "note": ""})  # fmt: skip
    assert response.status_code == 302 and MdfBudget.objects.filter(period="2031-Q1").exists()
    # The partner claims from the page with a file.
    login(client, world.admin_a)
    upload = SimpleUploadedFile("proof.pdf", PDF)
    client.post(reverse("mdf_request_claim", args=[pk]), {"claim-proof_file": upload, "claim-proof_url": ""})
    assert MdfRequest.objects.get(pk=pk).status == MdfStatus.CLAIMED
    page = client.get(reverse("mdf_request_detail", args=[pk])).content.decode()
    assert reverse("mdf_request_proof", args=[pk]) in page
    # Budgets are the vendor's.
    for user in (world.admin_a, world.rep_a):
        login(client, user)
        assert client.get(reverse("mdf_budget_list")).status_code == 403
        assert client.get(reverse("mdf_budget_create")).status_code == 403
        assert client.get(reverse("mdf_budget_edit", args=[gold.pk])).status_code == 404
    # An ineligible partner admin is told why, and cannot post.
    login(client, world.admin_b)
    form = client.get(reverse("mdf_request_create")).content.decode()
    assert "benefit of higher program tiers" in form and "Registered" in form
    valid = {"activity": "Fair", "activity_type": "event", "activity_date": timezone.now().date().isoformat(),
             "amount": "100", "currency": "USD"}  # fmt: skip
    assert client.post(reverse("mdf_request_create"), valid).status_code == 403
    assert MdfRequest.objects.count() == 1


@pytest.mark.django_db
def test_an_oversized_upload_is_refused_before_it_is_read(world, ask, client):
    pk = ask(world.admin_a, "100.00").json()["id"]
    _post(client, world.manager, pk, "approve")
    login(client, world.admin_a)
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * (6 * 1024 * 1024))
    response = client.post(reverse("mdf_request_claim", args=[pk]), {"claim-proof_file": big}, follow=True)
    assert "larger than 5 MB" in response.content.decode()
    assert MdfRequest.objects.get(pk=pk).status == MdfStatus.APPROVED


@pytest.mark.django_db
def test_the_api_refuses_an_oversized_claim_before_parsing_it(world, ask, client):
    pk = ask(world.admin_a, "100.00").json()["id"]
    _post(client, world.manager, pk, "approve")
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * (6 * 1024 * 1024))
    response = _post(client, world.admin_a, pk, "claim", {"proof_file": big}, content_type=None)
    assert response.status_code == 400
    assert response.json() == {"proof_file": ["The upload is larger than 5 MB."]}
    assert MdfRequest.objects.get(pk=pk).status == MdfStatus.APPROVED
