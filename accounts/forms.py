from __future__ import annotations

from collections.abc import Iterator

from django import forms
from django.contrib.auth import forms as auth_forms

from accounts.models import User


class AdminUserCreationForm(auth_forms.SetUnusablePasswordMixin, auth_forms.BaseUserCreationForm):
    """Admin "add user": the password goes to the credentials store on save."""

    usable_password = auth_forms.SetUnusablePasswordMixin.create_usable_password_field()

    class Meta:
        model = User
        fields = ("email", "full_name")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password1"].required = False
        self.fields["password2"].required = False


class AdminUserChangeForm(forms.ModelForm):
    """Admin "change user": no password field; the admin links to its own page."""

    class Meta:
        model = User
        fields = (
            "email",
            "full_name",
            "is_active",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
        )


class PasswordResetForm(auth_forms.PasswordResetForm):
    def get_users(self, email: str) -> Iterator[User]:
        # Django skips users without a usable password. A member who signed up
        # with Google has none, and a reset link is how he sets one: owning
        # the mailbox is the proof either way.
        return (
            user
            for user in User._default_manager.filter(email__iexact=email, is_active=True)
            if user.email.casefold() == email.casefold()
        )
