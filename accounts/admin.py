from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html

from accounts import personal_data, services
from accounts.admin_writes import ChangedFieldsOnly
from accounts.forms import (
    AdminPasswordChangeForm,
    AdminSignInForm,
    AdminUserChangeForm,
    AdminUserCreationForm,
)
from accounts.models import User

# /admin/login/ counts against the same sign-in throttle as the sign-in page.
admin.site.login_form = AdminSignInForm

INVITED = "{email} was emailed a link to choose a password (it also verifies the address)."
MARKED_VERIFIED = "Marked the email address verified."
INVITATION_SENT = "Sent an invitation to choose a password."


@admin.register(User)
class UserAdmin(ChangedFieldsOnly, DjangoUserAdmin):
    form = AdminUserChangeForm
    add_form = AdminUserCreationForm
    change_password_form = AdminPasswordChangeForm
    fieldsets = (
        (None, {"fields": ("email", "password_link")}),
        ("Personal info", {"fields": ("full_name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (
            "Important dates",
            {
                "fields": (
                    "last_login",
                    "date_joined",
                    "email_verified_at",
                    "credentials_changed_at",
                )
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = (
        "password_link",
        "last_login",
        "date_joined",
        "email_verified_at",
        "credentials_changed_at",
    )
    list_display = ("email", "full_name", "verified", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "full_name")
    ordering = ("email",)
    actions = ["mark_verified", "invite"]

    @admin.display(description="Password")
    def password_link(self, obj: User) -> str:
        # Stored in the credentials database and never shown, even hashed.
        url = reverse("admin:auth_user_password_change", args=[obj.pk])
        return format_html('<a href="{}">Set a new password</a>', url)

    @admin.display(description="Address verified", boolean=True)
    def verified(self, obj: User) -> bool:
        return obj.is_verified

    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            # Whoever made it, the man chooses his own password; doing so
            # through the emailed link proves the address is his.
            services.invitation_send(user=obj)
            self.message_user(request, INVITED.format(email=obj.email), messages.INFO)

    # Staff who may change accounts (superusers, or staff given "Can change
    # user"): facilitators and treasurers may not.
    @admin.action(description="Mark the email address verified", permissions=["change"])
    def mark_verified(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        unverified = queryset.filter(email_verified_at__isnull=True)
        if "apply" not in request.POST:
            # Irreversible, and it lets a password chosen at sign-up sign in: asked first.
            context = {
                **self.admin_site.each_context(request),
                "title": "Mark email addresses verified",
                "opts": self.model._meta,
                "users": unverified,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return render(request, "admin/accounts/user/mark_verified.html", context)
        marked = 0
        for user in unverified:
            if services.email_prove(user=user):
                self.log_change(request, user, MARKED_VERIFIED)
                marked += 1
        self.message_user(request, f"Marked {marked} email addresses verified.", messages.SUCCESS)
        return None

    @admin.action(description="Email an invitation to choose a password", permissions=["change"])
    def invite(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(queryset.filter(is_active=True))
        for user in users:
            services.invitation_send(user=user)
            self.log_change(request, user, INVITATION_SENT)
        self.message_user(request, f"Invitations sent: {len(users)}.", messages.SUCCESS)

    # --- Deleting: the same as the member's own deletion -------------------------------

    def get_actions(self, request: HttpRequest) -> dict:
        # One at a time, from his page: a deletion may be refused (Stripe down,
        # the last facilitator of a circle), and then nothing is deleted.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.user_delete(user=obj)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except personal_data.ErasureError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[object_id]))
