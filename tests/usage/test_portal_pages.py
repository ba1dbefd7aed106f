"""The metering pages: CSV upload with its report, the quarantine worklist, event amendments, metrics."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from prm.core.periods import BillingPeriod
from prm.plans.models import Metric
from prm.usage.models import QuarantinedEvent, UsageEvent, UsageUpload
from prm.usage.selectors import period_usage


@pytest.fixture
def calls(db):
    return Metric.objects.create(code="calls", name="Calls", unit="call", aggregation="sum", field="calls")


def _upload(client, text: str, name="usage.csv"):
    return client.post(reverse("usage_upload"), {"file": SimpleUploadedFile(name, text.encode(), "text/csv")})


CSV = (
    "event_id,customer,metric,timestamp,value\n"
    "r1,cus_a1,calls,2026-11-02T10:00:00Z,10\n"
    "r2,cus_a1,calls,1793613600,2.5\n"  # Unix seconds: 2026-11-02T10:00:00Z
    "r3,cus_a1,calls,2026-11-02T10:00:00Z,abc\n"  # bad value
    "r4,cus_b1,calls,2026-11-02T10:00:00Z,1\n"  # another partner's customer: quarantined
    "r1,cus_a1,calls,2026-11-02T10:00:00Z,10\n"  # repeated row: duplicate
    ",cus_a1,calls,2026-11-02T10:00:00Z,1\n"  # no id
)


@pytest.mark.django_db
def test_csv_upload_counts_each_row_once_and_reports_line_by_line(world, login, calls):
    client = login(world.admin_a)
    response = _upload(client, CSV)
    assert response.status_code == 302
    upload = UsageUpload.objects.get()
    assert (upload.rows, upload.accepted, upload.duplicates, upload.quarantined, upload.rejected) == (6, 2, 1, 1, 2)
    report = list(
        csv.reader(io.StringIO(client.get(reverse("usage_upload_report", args=[upload.pk])).content.decode()))
    )
    assert report[0] == ["line", "event_id", "outcome", "detail"]
    by_line = {row[0]: row for row in report[1:]}
    assert by_line["2"][2] == "accepted" and by_line["3"][2] == "accepted"
    assert by_line["4"][2] == "rejected" and "value: Must be a number" in by_line["4"][3]
    assert by_line["5"][2] == "quarantined" and "cus_b1" in by_line["5"][3]
    assert by_line["6"][2] == "duplicate"
    assert by_line["7"][2] == "rejected" and "event_id: This field is required." in by_line["7"][3]
    period = BillingPeriod(2026, 11)
    total = period_usage(customer_id=world.customer_a1.pk, metric=calls, start=period.start, end=period.end)
    assert total == Decimal("12.5")
    # The same file again counts nothing twice.
    _upload(client, CSV)
    assert UsageUpload.objects.first().accepted == 0
    assert UsageEvent.objects.count() == 2


@pytest.mark.django_db
def test_csv_upload_refuses_files_it_cannot_read(world, login, calls):
    client = login(world.admin_a)
    response = _upload(client, "id,who,what\n1,2,3\n")
    assert response.status_code == 400
    assert "Missing column(s): event_id, customer, metric, timestamp, value" in response.content.decode()
    response = _upload(client, "event_id,customer,metric,timestamp,value\n")
    assert "no rows" in response.content.decode()
    response = client.post(
        reverse("usage_upload"), {"file": SimpleUploadedFile("x.csv", "é".encode("latin-1"), "text/csv")}
    )
    assert "not UTF-8" in response.content.decode()
    assert UsageUpload.objects.count() == 0


@pytest.mark.django_db
def test_csv_event_ids_are_scoped_to_the_uploader(world, login, calls):
    """Partner A's row r1 and partner B's row r1 are two events, not a duplicate."""
    _upload(login(world.admin_a), "event_id,customer,metric,timestamp,value\nr1,cus_a1,calls,2026-11-02T10:00:00Z,1\n")
    _upload(login(world.admin_b), "event_id,customer,metric,timestamp,value\nr1,cus_b1,calls,2026-11-02T10:00:00Z,1\n")
    assert sorted(UsageEvent.objects.values_list("source", flat=True)) == [
        f"csv:partner-{world.partner_a.pk}",
        f"csv:partner-{world.partner_b.pk}",
    ]


@pytest.mark.django_db
def test_customers_cannot_upload_usage(world, login, calls):
    client = login(world.customer_user_a1)
    assert client.get(reverse("usage_upload")).status_code == 403
    assert _upload(client, CSV).status_code == 403
    assert UsageEvent.objects.count() == 0


@pytest.mark.django_db
def test_quarantine_worklist_reprocess_and_discard(world, login, calls):
    _upload(login(world.manager), "event_id,customer,metric,timestamp,value\n"
            "q1,cus_new,calls,2026-11-02T10:00:00Z,4\nq2,cus_new,calls,2026-11-02T11:00:00Z,5\n")  # fmt: skip
    client = login(world.manager)
    page = client.get(reverse("quarantine_list"))
    assert page.status_code == 200 and "cus_new" in page.content.decode()
    q1, q2 = QuarantinedEvent.objects.order_by("event_id")
    # Still unknown: re-processing keeps it waiting.
    client.post(reverse("quarantine_reprocess", args=[q1.pk]))
    q1.refresh_from_db()
    assert q1.status == "pending" and q1.attempts == 2
    # Discarding needs a reason.
    client.post(reverse("quarantine_discard", args=[q2.pk]), {"reason": ""})
    q2.refresh_from_db()
    assert q2.status == "pending"
    client.post(reverse("quarantine_discard", args=[q2.pk]), {"reason": "test data"})
    q2.refresh_from_db()
    assert (q2.status, q2.resolution, q2.resolved_by) == ("discarded", "test data", world.manager)
    # Fix the cause, then re-process everything waiting.
    from tests.factories import CustomerFactory

    CustomerFactory(reseller=world.partner_a, external_id="cus_new")
    client.post(reverse("quarantine_reprocess_all"))
    q1.refresh_from_db()
    assert q1.status == "reprocessed" and q1.accepted_event.value == 4
    assert UsageEvent.objects.count() == 1  # the discarded one stays out


@pytest.mark.django_db
def test_quarantine_page_is_for_managers_only(world, login):
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        assert login(user).get(reverse("quarantine_list")).status_code == 403


@pytest.mark.django_db
def test_void_and_replace_from_the_event_page(world, login, calls):
    _upload(login(world.admin_a), "event_id,customer,metric,timestamp,value\nv1,cus_a1,calls,2026-11-02T10:00:00Z,7\n")
    event = UsageEvent.objects.get()
    client = login(world.admin_a)
    page = client.get(reverse("usage_event_detail", args=[event.pk]))
    assert page.status_code == 200 and "Void this event" not in page.content.decode()  # only managers amend
    assert client.post(reverse("usage_event_void", args=[event.pk]), {"void-reason": "x"}).status_code == 403
    client = login(world.manager)
    assert "Void this event" in client.get(reverse("usage_event_detail", args=[event.pk])).content.decode()
    response = client.post(
        reverse("usage_event_replace", args=[event.pk]), {"replace-reason": "meter fix", "replace-value": "9"}
    )
    replacement = UsageEvent.objects.get(replaces=event)
    assert response.status_code == 302 and response["Location"] == replacement.get_absolute_url()
    event.refresh_from_db()
    assert event.status == "voided" and replacement.value == 9
    period = BillingPeriod(2026, 11)
    assert period_usage(customer_id=world.customer_a1.pk, metric=calls, start=period.start, end=period.end) == 9


@pytest.mark.django_db
def test_metric_pages(world, login, calls):
    client = login(world.manager)
    response = client.post(
        reverse("metric_create"),
        {"code": "gb", "name": "Storage", "unit": "GB", "aggregation": "max", "field": ""},
    )
    assert response.status_code == 200 and "needs the property to read" in response.content.decode()
    response = client.post(
        reverse("metric_create"), {"code": "gb", "name": "Storage", "unit": "GB", "aggregation": "max", "field": "gb"}
    )
    assert response.status_code == 302 and Metric.objects.get(code="gb").field == "gb"
    assert "Storage" in login(world.customer_user_a1).get(reverse("metric_list")).content.decode()
