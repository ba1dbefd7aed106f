from prm.accounts.models import User
from prm.core.views import ObjectCreateView, ObjectDetailView, ObjectEditView, ObjectListView
from prm.customers import services
from prm.customers.filtersets import CustomerFilterSet
from prm.customers.forms import CustomerForm
from prm.customers.models import Customer
from prm.customers.permissions import can_create_customers, can_edit_customer
from prm.customers.tables import CustomerTable


class CustomerListView(ObjectListView):
    model = Customer
    table_class = CustomerTable
    filterset_class = CustomerFilterSet
    select_related = ("reseller", "assigned_rep")
    create_url_name = "customer_create"

    def can_create(self):
        return can_create_customers(self.request.user)

    def get_table_kwargs(self):
        # A partner's users have one reseller, themselves: the column would only repeat it.
        return {"exclude": ()} if self.request.user.is_manager else {"exclude": ("reseller",)}


class CustomerDetailView(ObjectDetailView):
    model = Customer
    select_related = ("reseller", "assigned_rep")
    template_name = "customers/customer_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_edit"] = can_edit_customer(self.request.user, self.object)
        context["people"] = User.objects.visible_to(self.request.user).filter(membership__customer=self.object)
        return context


class CustomerCreateView(ObjectCreateView):
    model = Customer
    form_class = CustomerForm

    def can_create(self):
        return can_create_customers(self.request.user)

    def save(self, form):
        return services.customer_create(actor=self.request.user, **form.cleaned_data)


class CustomerEditView(ObjectEditView):
    model = Customer
    form_class = CustomerForm
    select_related = ("reseller",)

    def can_edit(self, obj):
        return can_edit_customer(self.request.user, obj)

    def save(self, form):
        fields = {name: value for name, value in form.cleaned_data.items() if name != "external_id"}
        return services.customer_update(actor=self.request.user, customer=self.object, **fields)
