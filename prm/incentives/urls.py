"""/incentives/: commission rules and the commission ledger; statements and payouts; market development funds."""

from django.urls import include, path

urlpatterns = [
    path("", include("prm.incentives.commission_urls")),
    path("statements/", include("prm.incentives.statement_urls")),
    path("mdf/", include("prm.incentives.mdf_urls")),
]
