from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import phonenumbers
from django import forms
from django.contrib.auth import forms as auth_forms

from accounts import services, throttle
from accounts.canonical import email_key
from accounts.models import User

PHONE_INVALID = "Enter a mobile number in international format, e.g. +14155550123."
PHONE_NEEDED_FOR_SMS = "Add a mobile number to get text messages."
WRONG_PASSWORD = "That is not your password."
WRONG_CONFIRMATION = "Type your email address exactly to confirm."


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


class SignUpForm(auth_forms.BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")
        labels = {"full_name": "Full name"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["full_name"].required = True
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["full_name"].widget.attrs["autocomplete"] = "name"

    def clean_email(self) -> str:
        return User.objects.normalize_email(self.cleaned_data["email"])

    def validate_unique(self) -> None:
        # Whether the address is taken is never said here (the service deals
        # with it, and its owner hears of it by email): no "already exists".
        pass


class SignInForm(auth_forms.AuthenticationForm):
    """Django's sign-in form, refusing an account+IP after 5 failures in 15 minutes."""

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        # The same answer as a wrong password: see User.may_sign_in_with_password.
        if not user.may_sign_in_with_password:
            raise self.get_invalid_login_error()

    def clean(self) -> dict:
        with throttle.sign_in_attempt(
            self.cleaned_data.get("username") or "",
            throttle.client_ip(self.request),
            failure=forms.ValidationError,
            refusal=forms.ValidationError(throttle.THROTTLED_MESSAGE, code="throttled"),
        ):
            return super().clean()


class PasswordResetForm(auth_forms.PasswordResetForm):
    def save(self, **kwargs: Any) -> None:
        # Through the notification log like every other message. Django's own
        # save() makes the link here, from the request's Host; ours is minted
        # from SITE_URL when the email is delivered, so it never rests in the log.
        for user in self.get_users(self.cleaned_data["email"]):
            services.password_reset_send(user=user)

    def get_users(self, email: str) -> Iterator[User]:
        # Django skips users without a usable password. A member who signed up
        # with Google has none, and a reset link is how he sets one: owning
        # the mailbox is the proof either way. The link goes to the address
        # the account has, whichever spelling of it was typed here.
        return iter(User._default_manager.with_email(email).filter(is_active=True))


class SetPasswordForm(auth_forms.SetPasswordForm):
    """The last step of a reset: the link proved the mailbox (see services)."""

    def save(self, commit: bool = True) -> User:
        services.password_reset_complete(
            user=self.user, password=self.cleaned_data["new_password1"]
        )
        return self.user


class VerifyEmailForm(forms.Form):
    """The verification link's page: the account's password proves he is its maker.

    A link someone else's sign-up sent to a man's mailbox does not, when he
    opens it, verify an account whose password a stranger chose.
    """

    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args, user: User, request: Any, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.request = request

    def clean(self) -> dict:
        with throttle.sign_in_attempt(
            self.user.email,
            throttle.client_ip(self.request),
            failure=forms.ValidationError,
            refusal=forms.ValidationError(throttle.THROTTLED_MESSAGE, code="throttled"),
        ):
            if not self.user.check_password(self.cleaned_data.get("password")):
                raise forms.ValidationError(services.VERIFY_NEEDS_PASSWORD, code="wrong")
        return self.cleaned_data


class SettingsForm(forms.ModelForm):
    class Meta:
        model = User
        fields = (
            "full_name",
            "display_name",
            "phone",
            "time_zone",
            "email_reminders",
            "sms_reminders",
            "email_updates",
            "sms_updates",
            "email_broadcasts",
            "sms_broadcasts",
        )
        labels = {"phone": "Mobile number"}
        widgets = {
            "full_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "display_name": forms.TextInput(attrs={"autocomplete": "nickname"}),
            "phone": forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["full_name"].required = True

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"].strip()
        if not raw:
            return ""
        try:
            number = phonenumbers.parse(raw, None)
        except phonenumbers.NumberParseException as exc:
            raise forms.ValidationError(PHONE_INVALID) from exc
        if not phonenumbers.is_valid_number(number):
            raise forms.ValidationError(PHONE_INVALID)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def clean(self) -> dict:
        cleaned = super().clean()
        wants_sms = any(
            cleaned.get(f"sms_{kind}") for kind in ("reminders", "updates", "broadcasts")
        )
        if wants_sms and not cleaned.get("phone") and "phone" not in self.errors:
            self.add_error("phone", PHONE_NEEDED_FOR_SMS)
        return cleaned


class DeleteAccountForm(forms.Form):
    """Confirm by password; a member without one (Google only) types his email."""

    password = forms.CharField(
        required=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    confirm_email = forms.CharField(required=False, label="Type your email address to confirm")

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if user.has_usable_password():
            del self.fields["confirm_email"]
            self.fields["password"].required = True
        else:
            del self.fields["password"]
            self.fields["confirm_email"].required = True

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(WRONG_PASSWORD)
        return password

    def clean_confirm_email(self) -> str:
        typed = self.cleaned_data["confirm_email"].strip()
        if email_key(typed) != email_key(self.user.email):
            raise forms.ValidationError(WRONG_CONFIRMATION)
        return typed
