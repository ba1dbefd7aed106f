"""/api/v1/: every route of ARCHITECTURE.md's table, registered as its issue lands."""

from rest_framework.routers import DefaultRouter

from prm.accounts.api import UserViewSet
from prm.customers.api import CustomerViewSet
from prm.partners.api import PartnerViewSet, TierViewSet

router = DefaultRouter(trailing_slash=True)
router.register("partners", PartnerViewSet, basename="partner")
router.register("customers", CustomerViewSet, basename="customer")
router.register("users", UserViewSet, basename="user")
router.register("tiers", TierViewSet, basename="tier")

urlpatterns = router.urls
