from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from accounts import zones
from circles import times
from circles.models import WEEKDAYS

KINDS = [("", "Any"), ("in_person", "In person"), ("online", "Online")]
# The filters the directory (and the API) take, in the order a link spells them.
DIRECTORY_FILTERS = ("q", "weekday", "kind", "time_zone", "open_seats")


def zone_regions() -> set[str]:
    """ "Europe", "America"...: the regions of the zones a man can pick."""
    return {name.split("/", 1)[0] for name in zones.real_zones()}


def is_zone_or_region(value: str) -> bool:
    return zones.is_choosable(value) or value in zone_regions()


def zone_filter_choices(in_use: list[str], chosen: str | None = None) -> list[tuple]:
    """Any zone, then per region "Anywhere in <region>" and the zones circles meet in there.

    A zone no circle uses (an old link, a circle since closed) stays a choice when chosen,
    so the page still says what it filtered by.
    """
    names = sorted({*in_use, *([chosen] if chosen and "/" in chosen else [])})
    regions = sorted(
        {n.split("/", 1)[0] for n in names if "/" in n}
        | ({chosen} if chosen and chosen in zone_regions() else set())
    )
    choices: list[tuple] = [("", "Any time zone")]
    if zones.FALLBACK in names:
        choices.append((zones.FALLBACK, "UTC"))
    for region in regions:
        inside = [(n, times.zone_label(n)) for n in names if n.startswith(f"{region}/")]
        choices.append((region, [(region, f"Anywhere in {region}"), *inside]))
    return choices


class ZoneOrRegionField(forms.ChoiceField):
    """A time zone or a region; valid whether or not a circle meets there today."""

    def valid_value(self, value: str) -> bool:
        return is_zone_or_region(value)


class DirectoryFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        help_text="Words from a circle's name, area or description.",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "e.g. Brooklyn, grief"}),
    )
    weekday = forms.TypedChoiceField(
        choices=[("", "Any day"), *WEEKDAYS], coerce=int, empty_value=None, required=False
    )
    kind = forms.ChoiceField(choices=KINDS, required=False, label="Meets")
    time_zone = ZoneOrRegionField(
        required=False,
        label="Time zone",
        error_messages={"invalid_choice": "Pick a time zone or region from the list."},
    )
    open_seats = forms.BooleanField(required=False, label="Has open seats")

    def __init__(self, *args: Any, zones_in_use: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chosen = self.data.get("time_zone") if self.is_bound else None
        self.fields["time_zone"].choices = zone_filter_choices(
            list(zones_in_use), chosen if chosen and is_zone_or_region(chosen) else None
        )

    def filters(self) -> dict[str, Any]:
        """The filters that were understood; a bad one is left out (and shown in the errors)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        found = {name: self.cleaned_data.get(name) for name in DIRECTORY_FILTERS}
        # Monday is weekday 0: only None, "" and False mean "not filtered".
        return {n: v for n, v in found.items() if v is not None and v != "" and v is not False}


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
