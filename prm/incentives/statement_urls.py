"""Portal pages of statements and payouts (see statement_views.py), under /incentives/statements/."""

from django.urls import path

from prm.incentives import statement_views as views

urlpatterns = [
    path("", views.StatementListView.as_view(), name="statement_list"),
    # ?export=csv: the statement's entries as CSV.
    path("<int:pk>/", views.StatementDetailView.as_view(), name="statement_detail"),
    path("<int:pk>/approve/", views.statement_approve_view, name="statement_approve"),
    path("<int:pk>/payout/", views.statement_payout_view, name="statement_payout"),
]
