from __future__ import annotations

from typing import Any

from django import forms

from events import services
from events.models import Event, Question

# The label a question's field gets, by kind: what the man is asked to give.
_WIDGETS = {
    Question.Kind.TEXT: forms.Textarea(attrs={"rows": 3}),
    Question.Kind.DIETARY: forms.Textarea(attrs={"rows": 2}),
    Question.Kind.EMERGENCY_CONTACT: forms.TextInput(attrs={"autocomplete": "off"}),
}


class SearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search events",
        help_text="Words from the title, the place or the description.",
    )


class RegisterForm(forms.Form):
    """His ticket (when the event has tiers) and his answers to the event's questions.

    The fields are checked again by events.services (the one place the rules
    live); the form gives the page its labels, widgets and per-field errors.
    """

    def __init__(self, *args: Any, event: Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.event = event
        tiers = list(event.tiers.all())
        if tiers:
            self.fields["tier"] = forms.TypedChoiceField(
                label="Ticket",
                choices=[(t.pk, str(t)) for t in tiers],
                coerce=int,
                widget=forms.RadioSelect,
                help_text="Pay what you can: every ticket is the same seat.",
                error_messages={
                    "required": services.CHOOSE_TIER,
                    "invalid_choice": services.NO_SUCH_TIER,
                },
            )
        for question in event.questions.all():
            self.fields[f"q{question.pk}"] = forms.CharField(
                label=question.label,
                required=question.required,
                max_length=services.ANSWER_MAX,
                widget=_WIDGETS.get(question.kind, forms.Textarea(attrs={"rows": 3})),
                help_text="Only the organisers read this.",
                error_messages={
                    "required": services.ANSWER_REQUIRED.format(label=question.label),
                    "max_length": services.ANSWER_TOO_LONG,
                },
            )

    def answers(self) -> dict[int, str]:
        return {
            int(name[1:]): value
            for name, value in self.cleaned_data.items()
            if name.startswith("q") and name[1:].isdigit()
        }

    def add_service_error(self, error: services.EventError) -> bool:
        """Show a service's refusal beside the field it names; False if it names none here."""
        field = error.field or ""
        name = "q" + field.split(".", 1)[1] if field.startswith("answers.") else field
        if name not in self.fields:
            return False
        self.add_error(name, error.message)
        return True


class OfferForm(forms.Form):
    answer = forms.ChoiceField(choices=[("accept", "Accept"), ("decline", "Decline")])
