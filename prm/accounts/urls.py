from django.urls import path

from prm.accounts import views

urlpatterns = [
    path("people/", views.UserListView.as_view(), name="user_list"),
    path("invitations/", views.InvitationListView.as_view(), name="invitation_list"),
    path("invitations/new/", views.InvitationCreateView.as_view(), name="invitation_create"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("invitations/accept/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
    path("settings/api-keys/", views.ApiKeyListView.as_view(), name="api_keys"),
    path("settings/api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
