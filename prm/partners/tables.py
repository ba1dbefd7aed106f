import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from prm.partners.models import Partner


class PartnerTable(tables.Table):
    name = tables.Column(linkify=True)
    tier = tables.Column(accessor="tier__name", order_by="tier__rank", verbose_name="Tier")
    stage = tables.Column()
    customer_count = tables.Column(verbose_name="Customers", orderable=True)
    channel_manager = tables.Column(accessor="channel_manager__full_name", verbose_name="Channel manager")

    class Meta:
        model = Partner
        fields = ("name", "website_domain", "country", "tier", "stage", "customer_count", "channel_manager")
        order_by = ("name",)
        attrs = {"class": "table"}

    def render_stage(self, record, value):
        return format_html('<span class="badge stage-{}">{}</span>', record.stage, value)

    def render_customer_count(self, record, value):
        # A count links to the filtered list behind it.
        url = reverse("customer_list") + f"?reseller={record.pk}"
        return format_html('<a href="{}">{}</a>', url, value)

    def value_customer_count(self, value):
        return value
