from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.urls import reverse
from django.utils.html import format_html

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
        ("Important dates", {"fields": ("last_login", "date_joined", "credentials_changed_at")}),
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
    readonly_fields = ("password_link", "last_login", "date_joined", "credentials_changed_at")
    list_display = ("email", "full_name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "full_name")
    ordering = ("email",)

    @admin.display(description="Password")
    def password_link(self, obj: User) -> str:
        # Stored in the credentials database and never shown, even hashed.
        url = reverse("admin:auth_user_password_change", args=[obj.pk])
        return format_html('<a href="{}">Set a new password</a>', url)
