"""The one scoping mechanism: `Model.objects.visible_to(user)`.

Every model that belongs to a partner or a customer declares, once, how its rows reach their
partner, their customer and (for partner reps) their assigned rep:

    class Customer(models.Model):
        tenancy = Tenancy(partner="reseller", customer="pk", rep="assigned_rep")
        objects = TenantQuerySet.as_manager()

and every view, viewset, selector, export and widget starts from `visible_to(user)`. Rows the
user may not see are simply absent, so looking one up answers 404, never 403.

`core` knows nothing of the accounts app: a user tells its scope through a `scope` attribute
(a `Scope`), which the accounts app derives from the user's membership.
"""

from dataclasses import dataclass
from enum import StrEnum

from django.db import models
from django.db.models import Q


class ScopeKind(StrEnum):
    VENDOR = "vendor"  # channel managers: everything
    PARTNER = "partner"  # one partner's rows (reps: only those assigned to them)
    CUSTOMER = "customer"  # one customer's rows
    NONE = "none"  # anonymous, or a user without a membership: nothing


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    partner_id: int | None = None
    customer_id: int | None = None
    # Set for partner reps: they see only the rows assigned to them.
    rep_user_id: int | None = None

    @property
    def is_vendor(self) -> bool:
        return self.kind is ScopeKind.VENDOR


NOBODY = Scope(ScopeKind.NONE)


def scope_of(user) -> Scope:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOBODY
    return getattr(user, "scope", NOBODY)


@dataclass(frozen=True)
class Tenancy:
    """How a model's rows reach their owners, as ORM lookup paths (None: not reachable)."""

    # Each is a lookup path, or a tuple of paths any of which may match (a row reached by
    # more than one road, such as an invitation to a partner or to one of its customers).
    partner: str | tuple[str, ...] | None = None  # to the owning Partner: "customer__reseller"
    customer: str | tuple[str, ...] | None = None  # to the owning Customer: "customer"
    rep: str | tuple[str, ...] | None = None  # to the assigned rep (a User)
    # Rows with no assigned rep (the partner's own record, say) that reps still see whole.
    reps_see_all: bool = False

    def condition(self, scope: Scope) -> Q | None:
        """The filter for `scope`; None means the scope sees no row of this model."""
        if scope.kind is ScopeKind.VENDOR:
            return Q()
        if scope.kind is ScopeKind.PARTNER and self.partner:
            condition = _any_of(self.partner, scope.partner_id)
            if scope.rep_user_id is not None and not self.reps_see_all:
                if not self.rep:
                    return None
                condition &= _any_of(self.rep, scope.rep_user_id)
            return condition
        if scope.kind is ScopeKind.CUSTOMER and self.customer:
            return _any_of(self.customer, scope.customer_id)
        return None


def _any_of(paths: str | tuple[str, ...], value) -> Q:
    condition = Q()
    for path in (paths,) if isinstance(paths, str) else paths:
        condition |= Q(**{path: value})
    return condition


class TenantQuerySet(models.QuerySet):
    def visible_to(self, user):
        condition = self.model.tenancy.condition(scope_of(user))
        if condition is None:
            return self.none()
        return self.filter(condition)

    def locked_for(self, user, pk):
        """Row `pk`, re-read through `user`'s scope and locked until the transaction ends.

        Writes call this inside their transaction so that scope is checked where the write
        happens. Only this table's row is locked: the scope's joins may be outer joins, which
        PostgreSQL cannot lock.
        """
        return self.visible_to(user).select_for_update(of=("self",)).get(pk=pk)


class CatalogueQuerySet(models.QuerySet):
    """The vendor's catalogue (metrics, plans, tiers): every signed-in user may read all of it,
    through the same `visible_to` door as tenant data, so the generic views serve it too."""

    def visible_to(self, user):
        return self.all() if scope_of(user).kind is not ScopeKind.NONE else self.none()

    def locked_for(self, user, pk):
        return self.visible_to(user).select_for_update().get(pk=pk)


def tenant_models():
    """Every installed model that takes part in tenancy (used by the cross-tenant test)."""
    from django.apps import apps

    return [model for model in apps.get_models() if isinstance(getattr(model, "tenancy", None), Tenancy)]
