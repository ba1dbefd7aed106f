"""Recruit: the public application form (spam protection, duplicates) and the managers' review
(comments, approval that creates the partner and invites its admin, rejection with a reason)."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from prm.accounts.models import Invitation, Role
from prm.notifications.models import Notification
from prm.partners.models import (
    ApplicationComment,
    OnboardingItem,
    OnboardingTemplate,
    Partner,
    PartnerApplication,
    PartnerStageChange,
    Tier,
)
from prm.partners.services import (
    partner_application_approve,
    partner_application_comment,
    partner_application_reject,
    partner_application_submit,
)
from prm.partners.views import APPLY_RATE_LIMIT
from tests import factories

pytestmark = pytest.mark.django_db


def _form(**overrides) -> dict:
    return {
        "company": "Northstar Cloud", "website": "https://www.Northstar-Cloud.io/about", "country": "us",
        "industry": "software", "region": "north_america", "specialties": "Cloud migration",
        "expected_customers": "12", "contact_name": "Dana Whitfield", "contact_email": "dana@northstar-cloud.io",
        "message": "Hello", "fax": "", **overrides,
    }  # fmt: skip


def _submit(**overrides) -> PartnerApplication:
    fields = {name: value for name, value in _form(**overrides).items() if name != "fax"}
    return partner_application_submit(**fields)


# --- the public form ------------------------------------------------------------------------------


def test_the_form_is_public_and_an_application_tells_applicant_and_managers(
    world, client, django_capture_on_commit_callbacks
):
    other_manager = factories.manager(email="second-manager@test.example")
    assert client.get(reverse("partner_apply")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("partner_apply"), _form())

    assert response.status_code == 200
    assert "Thank you for applying" in response.content.decode()
    application = PartnerApplication.objects.get()
    # The domain is normalized as partners' are; the country upper-cased.
    assert (application.website, application.country, application.status) == ("northstar-cloud.io", "US", "received")
    assert (application.industry, application.region) == ("software", "north_america")
    assert application.expected_customers == 12
    # The applicant's confirmation, and one email per channel manager (the notification's).
    recipients = sorted(message.to[0] for message in mail.outbox)
    assert recipients == ["dana@northstar-cloud.io", "manager@test.example", "second-manager@test.example"]
    confirmation = next(message for message in mail.outbox if message.to == ["dana@northstar-cloud.io"])
    assert "We received your application" in confirmation.subject and "Northstar Cloud" in confirmation.body
    notices = Notification.objects.filter(kind="application.received")
    assert {notice.recipient for notice in notices} == {world.manager, other_manager}
    assert notices.first().url == application.get_absolute_url()


def test_the_honeypot_thanks_the_bot_and_stores_nothing(world, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("partner_apply"), _form(fax="+1 555 0100"))

    assert response.status_code == 200
    assert "Thank you for applying" in response.content.decode()
    assert PartnerApplication.objects.count() == 0
    assert mail.outbox == [] and Notification.objects.count() == 0


def test_the_sixth_submission_in_an_hour_from_one_address_is_refused(world, client):
    for n in range(APPLY_RATE_LIMIT):
        response = client.post(reverse("partner_apply"), _form(website=f"company-{n}.example"))
        assert response.status_code == 200 and "Thank you" in response.content.decode(), n
    assert PartnerApplication.objects.count() == 5

    refused = client.post(reverse("partner_apply"), _form(website="company-6.example"))

    assert refused.status_code == 429
    assert "Too many applications" in refused.content.decode()
    assert PartnerApplication.objects.count() == 5
    # Another address is not held back by the first one's submissions.
    other = client.post(reverse("partner_apply"), _form(website="company-7.example"), REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 200 and PartnerApplication.objects.count() == 6


def test_a_pending_application_or_a_partner_domain_is_refused_on_website(world, client):
    client.post(reverse("partner_apply"), _form())
    again = client.post(reverse("partner_apply"), _form(website="northstar-cloud.io", company="Northstar again"))

    assert again.status_code == 200
    assert "already waiting for a decision" in again.content.decode()
    assert PartnerApplication.objects.count() == 1
    with pytest.raises(ValidationError) as error:
        _submit(website="http://NORTHSTAR-cloud.io")
    assert list(error.value.message_dict) == ["website"]
    # Partner A's domain, written differently.
    with pytest.raises(ValidationError) as error:
        _submit(website="https://www.alpha.example.com/contact")
    assert "already a partner" in error.value.message_dict["website"][0]
    assert PartnerApplication.objects.count() == 1


def test_a_rejected_company_may_apply_again(world):
    first = _submit()
    partner_application_reject(actor=world.manager, application=first, reason="Too early")

    second = _submit()

    assert second.pk != first.pk and second.status == "received"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"website": "not a domain"}, "website"),
        ({"contact_email": "dana-at-northstar"}, "contact_email"),
        ({"expected_customers": -1}, "expected_customers"),
        ({"message": "x" * 2001}, "message"),
        ({"company": ""}, "company"),
        ({"industry": "astrology"}, "industry"),
        ({"country": "1X"}, "country"),
    ],
)
def test_bad_input_is_named_and_nothing_is_stored(world, overrides, field):
    with pytest.raises(ValidationError) as error:
        _submit(**overrides)
    assert field in error.value.message_dict
    assert PartnerApplication.objects.count() == 0


def test_markup_in_an_application_is_shown_as_text(world, client):
    application = _submit(company='<script>alert("x")</script> Corp', message='<img src=x onerror="alert(1)">')
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")

    body = client.get(application.get_absolute_url()).content.decode()

    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Corp" in body


# --- the managers' review -------------------------------------------------------------------------


@pytest.fixture
def checklist(world):
    """The entry tier's onboarding checklist: two items."""
    template = OnboardingTemplate.objects.create(tier=world.partner_a.tier, name="Registered onboarding")
    OnboardingItem.objects.create(template=template, key="agreement", title="Agreement accepted", order=1)
    OnboardingItem.objects.create(template=template, key="payout", title="Payout details", order=2)
    return template


def test_approval_creates_the_partner_invites_its_admin_and_tells_the_applicant(
    world, client, checklist, django_capture_on_commit_callbacks
):
    Tier.objects.create(code="gold", name="Gold", rank=3)  # not the entry tier
    colleague = factories.manager(email="colleague@test.example")
    application = _submit()
    mail.outbox.clear()
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/applications/{application.pk}/approve/", {"note": "Welcome!"}, content_type="application/json"
        )

    assert response.status_code == 200, response.json()
    body = response.json()
    partner = Partner.objects.get(website_domain="northstar-cloud.io")
    assert (body["status"], body["partner"], body["decided_by"]) == ("approved", partner.pk, "manager@test.example")
    assert (partner.name, partner.country, partner.industry, partner.region) == (
        "Northstar Cloud", "US", "software", "north_america",
    )  # fmt: skip
    assert (partner.tier, partner.stage, partner.channel_manager) == (world.partner_a.tier, "onboard", world.manager)
    api = client.get(f"/api/v1/partners/{partner.pk}/").json()
    assert (api["industry"], api["region"], api["stage"]) == ("software", "north_america", "onboard")
    change = PartnerStageChange.objects.get(partner=partner)
    assert (change.from_stage, change.to_stage, change.reason, change.changed_by) == (
        "recruit", "onboard", "Application approved", world.manager,
    )  # fmt: skip
    invitation = Invitation.objects.get(partner=partner)
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "dana@northstar-cloud.io", Role.PARTNER_ADMIN, world.manager,
    )  # fmt: skip
    # The checklist of its tier, nothing done yet.
    assert [task.item.key for task in partner.onboarding_tasks.order_by("item__order")] == ["agreement", "payout"]
    # Two emails to the applicant: the invitation and the decision (with the note).
    subjects = sorted(message.subject for message in mail.outbox if message.to == ["dana@northstar-cloud.io"])
    assert subjects == [
        "Welcome to the Northwind Cloud partner program",
        "You are invited to the Northwind Cloud partner portal",
    ]
    welcome = next(message for message in mail.outbox if message.subject.startswith("Welcome"))
    assert "Welcome!" in welcome.body
    # The other managers hear of it in the portal; the one who decided does not notify themselves.
    decided = Notification.objects.get(kind="application.decided")
    assert decided.recipient == colleague and decided.title == "Application approved: Northstar Cloud"


def test_approval_is_refused_whole_when_the_contact_already_has_an_account(world, client):
    application = _submit(contact_email="rep-a@test.example")
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")

    response = client.post(f"/api/v1/applications/{application.pk}/approve/", {}, content_type="application/json")

    assert response.status_code == 400
    assert "contact_email" in response.json()
    application.refresh_from_db()
    assert application.status == "received" and application.partner is None
    assert not Partner.objects.filter(website_domain="northstar-cloud.io").exists()
    assert not PartnerStageChange.objects.filter(reason="Application approved").exists()


def test_rejection_needs_a_reason_which_the_applicant_receives(world, client, django_capture_on_commit_callbacks):
    application = _submit()
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    url = f"/api/v1/applications/{application.pk}/reject/"

    missing = client.post(url, {"reason": ""}, content_type="application/json")
    assert missing.status_code == 400 and "reason" in missing.json()
    with pytest.raises(ValidationError) as error:
        partner_application_reject(actor=world.manager, application=application, reason="   ")
    assert list(error.value.message_dict) == ["reason"]
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": "We cover your region already."}, content_type="application/json")

    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert response.json()["decision_reason"] == "We cover your region already."
    (email,) = mail.outbox
    assert email.to == ["dana@northstar-cloud.io"] and "We cover your region already." in email.body
    # Decided once: neither approved nor rejected again.
    again = client.post(f"/api/v1/applications/{application.pk}/approve/", {}, content_type="application/json")
    assert again.status_code == 400 and "status" in again.json()
    assert not Partner.objects.filter(website_domain="northstar-cloud.io").exists()


def test_managers_comment_and_only_managers_decide(world, client):
    application = _submit()
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")

    response = client.post(
        f"/api/v1/applications/{application.pk}/comment/", {"text": "Good fit."}, content_type="application/json"
    )

    assert response.status_code == 201
    assert response.json()["author"] == "manager@test.example" and response.json()["text"] == "Good fit."
    detail = client.get(f"/api/v1/applications/{application.pk}/").json()
    assert [comment["text"] for comment in detail["comments"]] == ["Good fit."]
    empty = client.post(
        f"/api/v1/applications/{application.pk}/comment/", {"text": ""}, content_type="application/json"
    )
    assert empty.status_code == 400 and "text" in empty.json()
    # Services refuse anyone else outright (the API and the pages do not even find the row).
    for service, kwargs in ((partner_application_comment, {"text": "x"}), (partner_application_approve, {}),
                            (partner_application_reject, {"reason": "x"})):  # fmt: skip
        with pytest.raises(PermissionDenied):
            service(actor=world.admin_a, application=application, **kwargs)
    assert ApplicationComment.objects.count() == 1


def test_partner_users_cannot_see_applications(world, client):
    application = _submit()
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        listing = client.get("/api/v1/applications/").json()
        assert listing["count"] == 0, user.email
        assert client.get(f"/api/v1/applications/{application.pk}/").status_code == 404
        approve = client.post(f"/api/v1/applications/{application.pk}/approve/", {}, content_type="application/json")
        assert approve.status_code == 404
        assert client.get(reverse("application_list")).status_code == 403
        assert client.get(application.get_absolute_url()).status_code == 404
        assert client.post(reverse("application_approve", args=[application.pk])).status_code == 404
    application.refresh_from_db()
    assert application.status == "received"


# --- the review pages -----------------------------------------------------------------------------


def test_the_review_pages_list_count_and_decide(world, client, django_capture_on_commit_callbacks):
    waiting = _submit()
    rejected = _submit(website="other.example", company="Other Co")
    partner_application_reject(actor=world.manager, application=rejected, reason="No")
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")

    listing = client.get(reverse("application_list"))
    body = listing.content.decode()
    assert listing.status_code == 200 and "Northstar Cloud" in body and "Other Co" in body
    # Counts per status, each linking to its filtered list.
    assert listing.context["status_counts"] == [("received", "Received", 1), ("approved", "Approved", 0),
                                                ("rejected", "Rejected", 1)]  # fmt: skip
    filtered = client.get(reverse("application_list"), {"status": "received"}).content.decode()
    assert "Northstar Cloud" in filtered and "Other Co" not in filtered
    assert client.get(waiting.get_absolute_url()).status_code == 200

    # A rejection without a reason goes back with the message; nothing is decided.
    response = client.post(reverse("application_reject", args=[waiting.pk]), {"reject-reason": ""}, follow=True)
    assert "This field is required." in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == "received"

    client.post(reverse("application_comment", args=[waiting.pk]), {"comment-text": "Checked references."})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("application_approve", args=[waiting.pk]), {"approve-note": ""})
    assert response.status_code == 302 and response["Location"] == waiting.get_absolute_url()
    waiting.refresh_from_db()
    assert waiting.status == "approved" and waiting.partner.name == "Northstar Cloud"
    page = client.get(waiting.get_absolute_url()).content.decode()
    assert "Checked references." in page and waiting.partner.get_absolute_url() in page
