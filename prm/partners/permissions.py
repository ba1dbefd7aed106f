def can_manage_partners(user) -> bool:
    return user.is_authenticated and user.is_manager
