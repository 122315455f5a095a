"""Pages of two-factor sign-in: its settings, setup, the code page, turning it off.

The gate that sends a man here is accounts.middleware.TwoFactorMiddleware;
the rules are in accounts.two_factor.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services, two_factor

RECOVERY_USED = (
    "You signed in with a recovery code: {left} left. Make new ones in your two-factor settings."
)
TURNED_OFF = "Two-factor sign-in is off."


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The 6 digits your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"}
        ),
        error_messages={"required": two_factor.CODE_REQUIRED},
    )


class FirstCodeForm(CodeForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = "The 6 digits your authenticator app shows now."
        self.fields["code"].widget.attrs["inputmode"] = "numeric"


def _next(request: HttpRequest) -> str:
    # A path on this site only: anything else (a view name, another host) is his dashboard.
    return services.local_next(request.POST.get("next") or request.GET.get("next")) or resolve_url(
        settings.LOGIN_REDIRECT_URL
    )


def _with_next(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def _codes_page(request: HttpRequest, codes: list[str], next_url: str) -> HttpResponse:
    # Rendered in the answer to the POST and nowhere else: not stored, not redirected to.
    return render(request, "accounts/two_factor_codes.html", {"codes": codes, "next": next_url})


def _overview_page(request: HttpRequest, form: CodeForm | None = None) -> HttpResponse:
    """The settings page; again with `form`'s error after a refused code."""
    user = request.user
    context = {
        "on": two_factor.is_on(user),
        "required": two_factor.is_required(user),
        "codes_left": two_factor.recovery_codes_left(user),
        "form": form or CodeForm(),
    }
    return render(request, "accounts/two_factor.html", context)


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    return _overview_page(request)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    user, next_url = request.user, _next(request)
    if two_factor.is_on(user):
        messages.info(request, two_factor.ALREADY_ON)
        return redirect("accounts:two_factor")
    if request.method == "POST" and "start" in request.POST:
        two_factor.setup_start(user=user)
        return redirect(_with_next("accounts:two_factor_setup", next_url))
    device = two_factor.pending_setup(user)
    form = FirstCodeForm(request.POST if request.method == "POST" and device else None)
    if form.is_valid():
        try:
            codes = two_factor.setup_confirm(user=user, code=form.cleaned_data["code"])
        except two_factor.TwoFactorError as error:
            form.add_error("code", error.message)
        else:
            update_session_auth_hash(request, user)  # his other sessions end; this one stays
            two_factor.session_passed(request.session)
            return _codes_page(request, codes, next_url)
    context = {"device": device, "form": form, "next": next_url}
    if device is not None:
        uri = two_factor.otpauth_uri(user, device)
        context.update(qr=two_factor.qr_svg(uri), key=two_factor.base32_key(device), uri=uri)
    return render(request, "accounts/two_factor_setup.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    user, next_url = request.user, _next(request)
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if two_factor.session_state(request.session) == two_factor.PASSED:
        return redirect(next_url)
    if not two_factor.is_on(user):
        # Nothing to wait for (turned off meanwhile in another session): no code is due.
        request.session.pop(two_factor.SESSION_KEY, None)
        if two_factor.is_required(user):
            return redirect(_with_next("accounts:two_factor_setup", next_url))
        return redirect(next_url)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            kind = two_factor.verify(user=user, code=form.cleaned_data["code"])
        except two_factor.TwoFactorError as error:
            form.add_error("code", error.message)
        else:
            request.session.cycle_key()  # a new key for the session that now counts
            two_factor.session_passed(request.session)
            if kind == "recovery":
                left = two_factor.recovery_codes_left(user)
                messages.warning(request, RECOVERY_USED.format(left=left))
            return redirect(next_url)
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": next_url})


@login_required
@require_POST
def disable(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            two_factor.disable(user=request.user, code=form.cleaned_data["code"])
        except two_factor.TwoFactorError as error:
            form.add_error("code", error.message)
        else:
            # Staff are asked to set it up again before their next admin page.
            request.session.pop(two_factor.SESSION_KEY, None)
            messages.success(request, TURNED_OFF)
            return redirect("accounts:two_factor")
    return _overview_page(request, form)


@login_required
@never_cache
@require_POST
def recovery_codes(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            codes = two_factor.recovery_codes_renew(
                user=request.user, code=form.cleaned_data["code"]
            )
        except two_factor.TwoFactorError as error:
            form.add_error("code", error.message)
        else:
            return _codes_page(request, codes, reverse("accounts:two_factor"))
    return _overview_page(request, form)
