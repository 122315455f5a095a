from __future__ import annotations

from django import forms

from billing.models import Scholarship


class ScholarshipForm(forms.ModelForm):
    class Meta:
        model = Scholarship
        fields = ("kind", "reason")
        labels = {"kind": "I ask for", "reason": "Why (only treasurers read this)"}
        widgets = {"reason": forms.Textarea(attrs={"rows": 4, "maxlength": 2000})}

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if len(reason) > 2000:
            raise forms.ValidationError("Please keep it under 2,000 characters.")
        return reason
