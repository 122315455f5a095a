from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import google, personal_data, phones, services, throttle
from accounts.forms import (
    DeleteAccountForm,
    EmailChangeForm,
    PasswordChangeForm,
    PasswordResetForm,
    PhoneCodeForm,
    SettingsForm,
    SignInForm,
    SignUpForm,
    VerifyEmailForm,
)
from accounts.models import GoogleIdentity
from notifications import sms

GOOGLE_SESSION_KEY = "google_oidc"
GOOGLE_OFF = "Google sign-in is not available on this site."
GOOGLE_STATE_MISMATCH = "Google sign-in could not be completed. Please try again."
GOOGLE_CANCELLED = "Google sign-in was cancelled."
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _safe_next(target: str | None) -> str:
    # A path on this site only: redirect() would take any other word for a view name.
    return services.local_next(target) or resolve_url(settings.LOGIN_REDIRECT_URL)


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "google_enabled": google.is_enabled()}


class WithRequest:
    """Hands the request to the form, whose limits count per client network."""

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "request": self.request}


class PasswordChangeView(WithRequest, auth_views.PasswordChangeView):
    form_class = PasswordChangeForm


class PasswordResetView(WithRequest, auth_views.PasswordResetView):
    form_class = PasswordResetForm


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    next_url = services.local_next(request.POST.get("next") or request.GET.get("next"))
    if request.method == "POST" and form.is_valid():
        # New or taken, the same work and the same page: see the service.
        services.user_sign_up(
            email=form.cleaned_data["email"],
            full_name=form.cleaned_data["full_name"],
            password=form.cleaned_data["password1"],
            next_url=next_url,
            time_zone=form.cleaned_data["time_zone"],
        )
        return redirect("accounts:sign_up_done")
    return render(request, "accounts/sign_up.html", {"form": form, "next": next_url})


@require_GET
def sign_up_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/sign_up_done.html")


@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user = services.verification_user(token)
    except services.AccountError as error:
        messages.error(request, error.message)
        return redirect("accounts:settings" if request.user.is_authenticated else "accounts:login")
    signed_in_as_him = request.user.is_authenticated and request.user.pk == user.pk
    back = services.local_next(user.sign_up_next) or resolve_url(settings.LOGIN_REDIRECT_URL)
    if user.is_verified:
        messages.info(request, services.VERIFY_ALREADY)
        return redirect(back) if signed_in_as_him else redirect_to_login(back)
    # Signed in as him already, his session proves the password; else he types it.
    form = None
    if not signed_in_as_him:
        form = VerifyEmailForm(request.POST or None, user=user, request=request)
    if request.method == "POST" and (form is None or form.is_valid()):
        messages.success(request, services.email_verify(user=user))
        # The first proof ends every earlier session; this one starts after it.
        login(request, user, backend=MODEL_BACKEND)
        return redirect(back)
    return render(request, "accounts/verify_email.html", {"form": form, "account": user})


@login_required
@require_POST
def resend_verification(request: HttpRequest) -> HttpResponse:
    if request.user.is_verified:
        messages.info(request, services.VERIFY_ALREADY)
        return redirect("accounts:settings")
    decision = throttle.resend_request(request.user.email, request)
    if not decision.allowed:
        messages.error(request, throttle.too_many(decision))
    else:
        services.verification_send(user=request.user)
        messages.success(request, f"We sent a new link to {request.user.email}.")
    return redirect("accounts:settings")


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    # As saved: a form that fails still writes what it read into the instance.
    phone, phone_verified = request.user.phone, bool(request.user.verified_phone)
    challenge = phones.pending_challenge(user=request.user)
    texts = sms.is_available()
    form = SettingsForm(request.POST or None, instance=request.user, texts=texts)
    if request.method == "POST" and form.is_valid():
        # Only what the form changed: never the whole row it read (see the service).
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        services.user_settings_update(user=request.user, **changes)
        messages.success(request, "Your settings are saved.")
        return redirect("accounts:settings")
    context = {
        "form": form,
        "phone": phone and phones.phone_display(phone, time_zone=request.user.time_zone),
        "phone_verified": phone_verified,
        "phone_challenge": challenge,
        "texts": texts,
        "google_enabled": google.is_enabled(),
        "google_identity": GoogleIdentity.objects.filter(user_id=request.user.pk).first(),
        "has_password": request.user.has_usable_password(),
        "email_change": services.pending_email_change(user=request.user),
    }
    return render(request, "accounts/settings.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def email_change(request: HttpRequest) -> HttpResponse:
    has_password = request.user.has_usable_password()
    form = EmailChangeForm(request.POST or None, user=request.user, request=request)
    if request.method == "POST" and has_password and form.is_valid():
        current, new_email = request.user.email, form.cleaned_data["new_email"]
        try:
            services.email_change_request(user=request.user, new_email=new_email)
        except services.AccountError as error:
            form.add_error("new_email", error.message)
        else:
            # The same answer whether or not the address has an account: see the service.
            sent = services.EMAIL_CHANGE_SENT.format(email=new_email, current=current)
            messages.success(request, sent)
            return redirect("accounts:settings")
    context = {
        "form": form,
        "has_password": has_password,
        "pending": services.pending_email_change(user=request.user),
    }
    return render(request, "accounts/email_change.html", context)


@login_required
@require_POST
def email_change_cancel(request: HttpRequest) -> HttpResponse:
    if services.email_change_cancel(user=request.user):
        messages.success(request, services.EMAIL_CHANGE_CANCELLED.format(email=request.user.email))
    return redirect("accounts:settings")


@login_required
@require_http_methods(["GET", "POST"])
def email_change_confirm(request: HttpRequest, token: str) -> HttpResponse:
    # Signed in as the account that asked (with its second factor, if on): the
    # sign-in page brings him back here. A GET only shows what would change.
    try:
        change = services.email_change_for_token(token)
    except services.AccountError as error:
        messages.error(request, error.message)
        return redirect("accounts:settings")
    if change.user_id != request.user.pk:
        messages.error(request, services.EMAIL_CHANGE_OTHER_ACCOUNT)
        return redirect("accounts:settings")
    if request.method == "POST":
        try:
            user = services.email_change_confirm(
                change=change, keep_session=request.session.session_key
            )
        except services.AccountError as error:
            messages.error(request, error.message)
            return redirect("accounts:settings")
        # Every other session is signed out; this one goes on with the new stamp.
        update_session_auth_hash(request, user)
        messages.success(request, services.EMAIL_CHANGE_DONE.format(email=user.email))
        return redirect("accounts:settings")
    return render(request, "accounts/email_change_confirm.html", {"change": change})


@login_required
@require_POST
def phone_send_code(request: HttpRequest) -> HttpResponse:
    try:
        phones.phone_code_send(user=request.user, client=throttle.client_network(request))
    except services.AccountError as error:
        messages.error(request, error.message)
        return redirect("accounts:settings")
    shown = phones.phone_display(request.user.phone, time_zone=request.user.time_zone)
    messages.success(request, phones.PHONE_CODE_SENT.format(phone=shown))
    return redirect("accounts:phone_verify")


@login_required
@require_http_methods(["GET", "POST"])
def phone_verify(request: HttpRequest) -> HttpResponse:
    if not request.user.phone or request.user.verified_phone or not sms.is_available():
        return redirect("accounts:settings")
    form = PhoneCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            phones.phone_verify(user=request.user, code=form.cleaned_data["code"])
        except services.AccountError as error:
            form.add_error("code", error.message)
        else:
            messages.success(request, phones.PHONE_VERIFIED)
            return redirect("accounts:settings")
    challenge = phones.pending_challenge(user=request.user)
    return render(request, "accounts/phone_verify.html", {"form": form, "challenge": challenge})


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    data = services.user_export(user=request.user)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = 'attachment; filename="mens-circle-my-data.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST or None, user=request.user, request=request)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_delete(user=request.user)
        except personal_data.ErasureError as error:
            # Nothing was deleted (a vendor is down, or a circle needs him first).
            form.add_error(None, error.message)
            return render(request, "accounts/delete.html", {"form": form})
        logout(request)
        messages.success(request, "Your account and your personal data are deleted. Farewell.")
        return redirect("home")
    return render(request, "accounts/delete.html", {"form": form})


# --- Google sign-in --------------------------------------------------------------------


def _google_redirect_uri() -> str:
    return settings.SITE_URL + reverse("accounts:google_callback")


def _google_start(request: HttpRequest, intent: str) -> HttpResponse:
    if not google.is_enabled():
        messages.error(request, GOOGLE_OFF)
        return redirect("accounts:login")
    try:
        auth = google.authorization_request(_google_redirect_uri())
    except google.GoogleError as error:
        messages.error(request, error.message)
        return redirect("accounts:login")
    request.session[GOOGLE_SESSION_KEY] = {
        "state": auth.state,
        "nonce": auth.nonce,
        "verifier": auth.code_verifier,
        "intent": intent,
        "next": _safe_next(request.GET.get("next")),
    }
    return redirect(auth.url)


@require_GET
def google_sign_in(request: HttpRequest) -> HttpResponse:
    return _google_start(request, "sign_in")


@login_required
@require_POST
def google_link(request: HttpRequest) -> HttpResponse:
    if not request.user.is_verified:
        messages.error(request, services.NOT_VERIFIED_FOR_GOOGLE)
        return redirect("accounts:settings")
    return _google_start(request, "link")


@require_GET
def google_callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(GOOGLE_SESSION_KEY, None)
    back = "accounts:settings" if request.user.is_authenticated else "accounts:login"
    # constant_time_compare, not hmac.compare_digest: the latter raises on non-ASCII.
    if not pending or not constant_time_compare(pending["state"], request.GET.get("state", "")):
        messages.error(request, GOOGLE_STATE_MISMATCH)
        return redirect(back)
    if "code" not in request.GET:
        messages.info(request, GOOGLE_CANCELLED)
        return redirect(back)
    try:
        claims = google.exchange_code(
            code=request.GET["code"],
            redirect_uri=_google_redirect_uri(),
            code_verifier=pending["verifier"],
            nonce=pending["nonce"],
        )
        if pending["intent"] == "link" and request.user.is_authenticated:
            services.google_link(user=request.user, sub=claims.sub, email=claims.email)
            messages.success(request, "Google is linked: you can now sign in with it.")
            return redirect("accounts:settings")
        user = services.google_sign_in(sub=claims.sub, email=claims.email, name=claims.name)
    except (google.GoogleError, services.AccountError) as error:
        messages.error(request, error.message)
        return redirect(back)
    login(request, user, backend=MODEL_BACKEND)
    return redirect(pending["next"])


@login_required
@require_POST
def google_unlink(request: HttpRequest) -> HttpResponse:
    try:
        services.google_unlink(user=request.user)
    except services.AccountError as error:
        messages.error(request, error.message)
        return redirect("accounts:settings")
    # Unlinking ends every other session, like a password change; keep this one.
    update_session_auth_hash(request, request.user)
    messages.success(request, "Google is unlinked: sign in with your password from now on.")
    return redirect("accounts:settings")
