def can_manage_partners(user) -> bool:
    return user.is_authenticated and user.is_manager


def can_see_tier_evaluations(user) -> bool:
    """Managers decide them; a partner's admins follow their own (reps and customers: no)."""
    return user.is_authenticated and (user.is_manager or user.is_partner_admin)
