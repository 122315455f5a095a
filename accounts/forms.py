from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import forms as auth_forms
from django.http import HttpRequest

from accounts import phones, services, tasks, throttle, zones
from accounts.canonical import email_key
from accounts.models import User

PHONE_INVALID = phones.PHONE_INVALID
PHONE_NEEDED_FOR_SMS = "Add a mobile number to get text messages."
PHONE_UNVERIFIED_FOR_SMS = (
    "Verify your mobile number before turning texts on: save it, then ask for a code below."
)
PHONE_CODE_FORMAT = "Enter the 6 digits of the code we texted you."
SMS_FIELDS = ("sms_reminders", "sms_updates", "sms_broadcasts")
WRONG_PASSWORD = "That is not your password."
WRONG_CONFIRMATION = "Type your email address exactly to confirm."


def _refusal(decision: throttle.Decision) -> forms.ValidationError:
    return forms.ValidationError(throttle.too_many(decision), code="throttled")


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


class AdminPasswordChangeForm(auth_forms.AdminPasswordChangeForm):
    """The admin's "set a new password": writes the password only (services.password_set)."""

    def save(self, commit: bool = True) -> User:
        usable = self.cleaned_data["set_usable_password"]
        password = self.cleaned_data["password1"] if usable else None
        services.password_set(user=self.user, password=password)
        return self.user


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
    # Filled by static/js/time-zone.js from the browser; absent or not a real
    # zone, the account starts in UTC and his pages say so (accounts.zones).
    time_zone = forms.CharField(
        required=False, max_length=64, widget=forms.HiddenInput(attrs={"data-browser-zone": ""})
    )

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

    def clean_time_zone(self) -> str:
        return zones.valid_or_none(self.cleaned_data.get("time_zone")) or zones.FALLBACK

    def validate_unique(self) -> None:
        # Whether the address is taken is never said here (the service deals
        # with it, and its owner hears of it by email): no "already exists".
        pass


class SignInGuard:
    """Counts every sign-in through the site's throttle (accounts.throttle)."""

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        # The same answer as a wrong password: see User.may_sign_in_with_password.
        if not user.may_sign_in_with_password:
            raise self.get_invalid_login_error()

    def clean(self) -> dict:
        with throttle.sign_in_attempt(
            self.cleaned_data.get("username") or "",
            self.request,
            refusal=_refusal,
        ):
            return super().clean()


class SignInForm(SignInGuard, auth_forms.AuthenticationForm):
    """Django's sign-in form, throttled per account and client, and per account."""


class AdminSignInForm(SignInGuard, AdminAuthenticationForm):
    """/admin/login/: the admin's own form (staff only), behind the same throttle."""


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's form; checking the old password is limited like a sign-in."""

    def __init__(self, *args, request: HttpRequest | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        with throttle.old_password_check(self.user, self.request, refusal=_refusal):
            return super().clean_old_password()

    def save(self, commit: bool = True) -> User:
        # Django's saves the whole row it read; ours writes the password only.
        services.password_set(user=self.user, password=self.cleaned_data["new_password1"])
        return self.user


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Asks the background task for a link: the page does the same work for any address."""

    def __init__(self, *args, request: HttpRequest | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        decision = throttle.reset_request(email, self.request)
        if not decision.allowed:
            raise forms.ValidationError(throttle.too_many(decision), code="throttled")
        return email

    def save(self, **kwargs: Any) -> None:
        # Who has this address is looked up in the task, not here (a timing
        # oracle otherwise). The link is minted from SITE_URL at delivery, so
        # it never rests in the message log.
        tasks.password_reset_request.enqueue(self.cleaned_data["email"])


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
        with throttle.sign_in_attempt(self.user.email, self.request, refusal=_refusal):
            if not self.user.check_password(self.cleaned_data.get("password")):
                raise forms.ValidationError(services.VERIFY_NEEDS_PASSWORD, code="wrong")
        return self.cleaned_data


class SettingsForm(forms.ModelForm):
    # Longer than the column (E.164 is at most 16): a man types spaces, brackets and dashes.
    phone = forms.CharField(
        label="Mobile number",
        required=False,
        max_length=40,
        help_text="As you would dial it, e.g. (415) 555-0123; a number from another "
        "country starts with + and its country code.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

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
        widgets = {
            "full_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "display_name": forms.TextInput(attrs={"autocomplete": "nickname"}),
        }

    def __init__(self, *args, texts: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["full_name"].required = True
        self.fields["time_zone"].help_text = "Times of online meetings are shown in this zone."
        self.fields["time_zone"].error_messages["invalid_choice"] = zones.NOT_A_ZONE
        if not texts:
            # No texts on this site: no choice about them, and a save keeps what was there.
            for name in SMS_FIELDS:
                del self.fields[name]
        if self.instance.phone:
            # Shown as he would write it; saved as +14155550123 (clean_phone).
            self.initial["phone"] = phones.phone_display(
                self.instance.phone, time_zone=self.instance.time_zone
            )

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"].strip()
        if not raw:
            return ""
        # The zone he is choosing now, else his saved one: only a hint for the country.
        zone = self.data.get("time_zone") or self.instance.time_zone
        try:
            return phones.phone_parse(raw, time_zone=zone)
        except ValueError as exc:
            raise forms.ValidationError(PHONE_INVALID) from exc

    def clean(self) -> dict:
        cleaned = super().clean()
        wants_sms = any(cleaned.get(name) for name in SMS_FIELDS)
        if "phone" in self.errors or not wants_sms:
            return cleaned
        if not cleaned.get("phone"):
            self.add_error("phone", PHONE_NEEDED_FOR_SMS)
            return cleaned
        # Texts go only to a proved number: one he turns on needs it proved first.
        # (A choice made before numbers were verified stays; it waits for the proof.)
        # self.instance still holds the saved values here.
        proved = cleaned["phone"] == self.instance.phone and self.instance.verified_phone
        turned_on = any(
            cleaned.get(name) and not getattr(self.instance, name) for name in SMS_FIELDS
        )
        if turned_on and not proved:
            self.add_error("phone", PHONE_UNVERIFIED_FOR_SMS)
        return cleaned


class EmailChangeForm(forms.Form):
    """A new address, and the password that proves the one asking is the account's owner."""

    new_email = forms.EmailField(
        label="New email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user: User, request: HttpRequest | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.request = request

    def clean_new_email(self) -> str:
        new_email = User.objects.normalize_email(self.cleaned_data["new_email"])
        if new_email == self.user.email:
            raise forms.ValidationError(services.EMAIL_CHANGE_SAME)
        return new_email

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        with throttle.old_password_check(self.user, self.request, refusal=_refusal):
            if not self.user.check_password(password):
                raise forms.ValidationError(WRONG_PASSWORD)
        return password

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors:
            # Counted once the password is right: each request sends an email somewhere.
            decision = throttle.email_change_request(self.user, cleaned["new_email"], self.request)
            if not decision.allowed:
                raise _refusal(decision)
        return cleaned


class PhoneCodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        ),
    )

    def clean_code(self) -> str:
        # Spaces and dashes as people type them ("123 456"); ASCII digits only.
        code = "".join(self.cleaned_data["code"].split()).replace("-", "")
        if len(code) != 6 or not all("0" <= c <= "9" for c in code):
            raise forms.ValidationError(PHONE_CODE_FORMAT)
        return code


class DeleteAccountForm(forms.Form):
    """Confirm by password; a member without one (Google only) types his email."""

    password = forms.CharField(
        required=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    confirm_email = forms.CharField(required=False, label="Type your email address to confirm")

    def __init__(self, *args, user: User, request: HttpRequest | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.request = request
        if user.has_usable_password():
            del self.fields["confirm_email"]
            self.fields["password"].required = True
        else:
            del self.fields["password"]
            self.fields["confirm_email"].required = True

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        with throttle.old_password_check(self.user, self.request, refusal=_refusal):
            if not self.user.check_password(password):
                raise forms.ValidationError(WRONG_PASSWORD)
        return password

    def clean_confirm_email(self) -> str:
        typed = self.cleaned_data["confirm_email"].strip()
        if email_key(typed) != email_key(self.user.email):
            raise forms.ValidationError(WRONG_CONFIRMATION)
        return typed
