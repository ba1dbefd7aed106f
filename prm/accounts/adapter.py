from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # People join by invitation (or, for new partners, through the public application
        # at /apply/); there is no open sign-up.
        return False
