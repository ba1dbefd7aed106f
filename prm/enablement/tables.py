import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from prm.enablement.models import Certification, Resource


class CertificationTable(tables.Table):
    person = tables.Column(accessor="person__full_name", order_by=("person__full_name", "person__email"))
    email = tables.Column(accessor="person__email", verbose_name="Email")
    partner = tables.Column(accessor="partner__name", order_by="partner__name", verbose_name="Partner")
    course = tables.Column(accessor="course__title", order_by="course__title", verbose_name="Course")
    issued_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Issued")
    expires_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Expires")
    status = tables.Column(empty_values=(), orderable=False, verbose_name="Status")

    class Meta:
        model = Certification
        fields = ("person", "email", "partner", "course", "issued_at", "expires_at", "status")
        order_by = ("-issued_at",)
        attrs = {"class": "table"}

    def render_person(self, record):
        return record.person.display_name

    def value_person(self, record):
        return record.person.display_name

    def render_course(self, record, value):
        return format_html('<a href="{}">{}</a>', record.get_absolute_url(), value)

    def render_status(self, record):
        if record.is_expired:
            return format_html('<span class="badge status-voided">{}</span>', "Expired")
        return format_html('<span class="badge status-active">{}</span>', "Active")

    def value_status(self, record):
        return record.status


class ResourceTable(tables.Table):
    title = tables.Column()
    kind = tables.Column()
    min_tier = tables.Column(
        accessor="min_tier__name", order_by="min_tier__rank", default="Every partner", verbose_name="Tier"
    )
    co_brandable = tables.BooleanColumn(verbose_name="Co-brandable", yesno="yes,no")
    description = tables.Column(orderable=False)
    get = tables.Column(empty_values=(), orderable=False, verbose_name="", exclude_from_export=True)
    is_published = tables.BooleanColumn(verbose_name="Published", yesno="yes,no")
    edit = tables.Column(empty_values=(), orderable=False, verbose_name="", exclude_from_export=True)

    class Meta:
        model = Resource
        fields = ("title", "kind", "min_tier", "co_brandable", "description", "get", "is_published", "edit")
        order_by = ("title",)
        attrs = {"class": "table"}
        row_attrs = {"id": lambda record: f"resource-{record.pk}"}

    def render_get(self, record):
        if record.file:
            label = f"Download .{record.file_extension}" if record.file_extension else "Download"
            return format_html('<a class="button small secondary" href="{}">{}</a>', record.download_url(), label)
        return format_html(
            '<a class="button small secondary" href="{}" rel="noopener noreferrer" target="_blank">Open link</a>',
            record.url,
        )

    def render_edit(self, record):
        return format_html('<a href="{}">Edit</a>', reverse("resource_edit", args=[record.pk]))
