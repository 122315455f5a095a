from __future__ import annotations

from django import forms

from circles.models import WEEKDAYS

KINDS = [("", "Any"), ("in_person", "In person"), ("online", "Online")]


class DirectoryFilterForm(forms.Form):
    weekday = forms.TypedChoiceField(
        choices=[("", "Any day"), *WEEKDAYS], coerce=int, empty_value=None, required=False
    )
    kind = forms.ChoiceField(choices=KINDS, required=False, label="Meets")
    open_seats = forms.BooleanField(required=False, label="Has open seats")


class JoinForm(forms.Form):
    accept = forms.BooleanField(
        label="I have read these agreements and will keep them.",
        error_messages={"required": "Please accept the agreements to ask to join."},
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    introduction = forms.CharField(
        label="A few words about yourself (optional)",
        help_text="Only the circle's facilitators read this: why you want to join, "
        "what brings you now.",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"max_length": "Please keep your introduction under 1000 characters."},
    )


class WithdrawForm(forms.Form):
    confirm = forms.BooleanField(
        error_messages={"required": "Tick the box to confirm you withdraw your request."},
        label="Yes, withdraw my request",
    )


class AgreementForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)


class OfferForm(forms.Form):
    answer = forms.ChoiceField(choices=[("accept", "Accept"), ("decline", "Decline")])


class RSVPForm(forms.Form):
    response = forms.ChoiceField(choices=[("yes", "Yes"), ("no", "No")])


class SharingForm(forms.Form):
    """What a member shows his circle (services.membership_sharing_set writes it)."""

    share_email = forms.BooleanField(required=False, label="Show my email address to my circle")
    share_phone = forms.BooleanField(required=False, label="Show my mobile number to my circle")


class LeaveForm(forms.Form):
    word = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="A word to your facilitator (optional)",
        help_text=(
            "The circle's agreement asks a man who leaves to say so. Only the facilitators read it."
        ),
        error_messages={"max_length": "Keep it under 1,000 characters."},
    )
