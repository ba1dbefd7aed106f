def can_manage_partners(user) -> bool:
    return user.is_authenticated and user.is_manager


def can_see_tier_evaluations(user) -> bool:
    """Managers decide them; a partner's admins follow their own (reps and customers: no)."""
    return user.is_authenticated and (user.is_manager or user.is_partner_admin)


def can_review_applications(user) -> bool:
    """Applications, the onboarding pipeline and target markets are the vendor's."""
    return user.is_authenticated and user.is_manager


def can_complete_onboarding(user, partner) -> bool:
    """Channel managers, and the partner's own admins, tick its onboarding items."""
    if not user.is_authenticated:
        return False
    return user.is_manager or (user.is_partner_admin and user.partner.pk == partner.pk)
