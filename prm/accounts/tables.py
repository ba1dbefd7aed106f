import django_tables2 as tables

from prm.accounts.models import Invitation, User


class UserTable(tables.Table):
    email = tables.Column()
    full_name = tables.Column(verbose_name="Name")
    role = tables.Column(accessor="membership__role", verbose_name="Role", default="—")
    organisation = tables.Column(
        accessor="membership__partner", verbose_name="Partner", default="—", order_by="membership__partner__name"
    )
    customer = tables.Column(
        accessor="membership__customer", verbose_name="Customer", default="—", order_by="membership__customer__name"
    )

    class Meta:
        model = User
        fields = ("email", "full_name", "role", "organisation", "customer", "is_active", "last_login")
        attrs = {"class": "table"}

    def render_role(self, record):
        return record.role_label


class InvitationTable(tables.Table):
    status = tables.Column(empty_values=(), orderable=False)
    actions = tables.TemplateColumn(
        template_name="accounts/invitation_actions.html", orderable=False, exclude_from_export=True, verbose_name=""
    )

    class Meta:
        model = Invitation
        fields = ("email", "role", "partner", "customer", "invited_by", "created_at", "expires_at", "status")
        attrs = {"class": "table"}

    def render_status(self, record):
        return record.status
