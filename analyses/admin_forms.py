"""The admin's Analysis forms: a status edit is checked by the state machine before it is saved."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .contract import PROGRESS_MAX
from .models import Analysis
from .state_machine import Change, Stage, Status, TransitionError, Verdict, apply_change


class AnalysisAddForm(forms.ModelForm):
    class Meta:
        model = Analysis
        fields = ["owner", "filename", "media_url", "max_retries"]


class AnalysisChangeForm(forms.ModelForm):
    """Edits status, stage and progress; the extra fields carry what some transitions require.

    The fields only read what was typed; the state machine checks the change's shape and rules,
    with the same sentences the API answers.
    """

    message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    error_code = forms.CharField(required=False, help_text="Required when the status becomes failed.")
    error_detail = forms.CharField(required=False)
    verdict = forms.ChoiceField(
        required=False,
        choices=[("", "---------")] + [(v.value, v.value) for v in Verdict],
        help_text="Required when the status becomes completed.",
    )
    confidence = forms.FloatField(required=False, help_text="From 0 to 1.")

    class Meta:
        model = Analysis
        fields = ["status", "stage", "progress"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "progress" in self.fields:  # absent for staff who may only view
            self.fields["progress"].widget.attrs.update(min=0, max=PROGRESS_MAX)
        self.change: Change | None = None

    def _requested_change(self) -> Change:
        data, current = self.cleaned_data, self.instance
        status = data.get("status")
        stage = data.get("stage") or None
        progress = data.get("progress")
        error = None
        if data.get("error_code") or data.get("error_detail"):
            error = {"code": data.get("error_code", ""), "detail": data.get("error_detail", "")}
        result = None
        if data.get("verdict") or data.get("confidence") is not None:
            result = {"verdict": data.get("verdict"), "confidence": data.get("confidence")}
        return Change(
            status=Status(status) if status and status != current.status else None,
            stage=Stage(stage) if stage and stage != current.stage else None,
            progress=progress if progress is not None and progress != current.progress else None,
            message=data.get("message") or None,
            error=error,
            result=result,
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        change = self._requested_change()
        if change.is_empty():
            return cleaned
        try:
            apply_change(Analysis.objects.get(pk=self.instance.pk).state, change)
        except TransitionError as refused:
            raise ValidationError(f"Refused: {refused.detail}", code=refused.code) from None
        self.change = change
        return cleaned

    def _post_clean(self) -> None:
        # The model instance is never written from this form: the service writes the change.
        pass
