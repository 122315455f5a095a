from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import two_factor_views, views
from accounts.forms import SetPasswordForm
from accounts.tokens import INVITATION_DAYS, invitation_token, password_reset_token

app_name = "accounts"

urlpatterns = [
    path(
        "login/",
        views.SignInView.as_view(),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.sign_up, name="sign_up"),
    path("signup/done/", views.sign_up_done, name="sign_up_done"),
    path("verify/resend/", views.resend_verification, name="resend_verification"),
    path("verify/<str:token>/", views.verify_email, name="verify_email"),
    path("settings/", views.account_settings, name="settings"),
    path("settings/email/", views.email_change, name="email_change"),
    path("settings/email/cancel/", views.email_change_cancel, name="email_change_cancel"),
    path("email/confirm/<str:token>/", views.email_change_confirm, name="email_change_confirm"),
    path("settings/phone/send/", views.phone_send_code, name="phone_send_code"),
    path("settings/phone/verify/", views.phone_verify, name="phone_verify"),
    path("settings/export/", views.export, name="export"),
    path("settings/delete/", views.delete_account, name="delete"),
    path("google/", views.google_sign_in, name="google_sign_in"),
    path("google/link/", views.google_link, name="google_link"),
    path("google/callback/", views.google_callback, name="google_callback"),
    path("google/unlink/", views.google_unlink, name="google_unlink"),
    path("two-factor/", two_factor_views.overview, name="two_factor"),
    path("two-factor/setup/", two_factor_views.setup, name="two_factor_setup"),
    path("two-factor/verify/", two_factor_views.verify, name="two_factor_verify"),
    path("two-factor/disable/", two_factor_views.disable, name="two_factor_disable"),
    path(
        "two-factor/recovery-codes/",
        two_factor_views.recovery_codes,
        name="two_factor_recovery_codes",
    ),
    path(
        "password/change/",
        views.PasswordChangeView.as_view(
            template_name="accounts/password_change.html",
            success_url=reverse_lazy("accounts:password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path(
        "password/reset/",
        views.PasswordResetView.as_view(
            token_generator=password_reset_token,
            template_name="accounts/password_reset.html",
            success_url=reverse_lazy("accounts:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            form_class=SetPasswordForm,
            token_generator=password_reset_token,
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password_reset_complete"),
            post_reset_login=False,
        ),
        name="password_reset_confirm",
    ),
    path(
        "invitation/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            form_class=SetPasswordForm,
            token_generator=invitation_token,
            template_name="accounts/invitation.html",
            extra_context={"days": INVITATION_DAYS},
            success_url=reverse_lazy("accounts:password_reset_complete"),
            post_reset_login=False,
        ),
        name="invitation",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
]
