"""The admin: inspect analyses and their history; status edits go through the transition service."""

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from .admin_forms import AnalysisAddForm, AnalysisChangeForm
from .models import Analysis, StatusEvent
from .services import analysis_create, analysis_request_broadcast, analysis_transition
from .state_machine import Change, Status, TransitionError


class StatusEventInline(admin.TabularInline):
    model = StatusEvent
    verbose_name_plural = "History (newest first)"
    fields = [
        "seq",
        "timestamp",
        "event",
        "previous_status",
        "status",
        "stage",
        "progress",
        "retry_count",
        "message",
        "error",
        "result",
        "actor",
    ]
    readonly_fields = fields
    ordering = ["-seq"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Analysis | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Analysis | None = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Analysis | None = None) -> bool:
        # Whoever may see an analysis in the admin sees its history; no separate permission.
        return request.user.has_perm("analyses.view_analysis") or request.user.has_perm("analyses.change_analysis")


@admin.register(Analysis)
class AnalysisAdmin(admin.ModelAdmin):
    list_display = ["filename", "owner", "status", "stage", "progress", "retry_count", "updated_at"]
    list_filter = ["status", "stage", ("owner", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["filename", "owner__username", "=id"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    actions = ["cancel_selected", "retry_selected", "rebroadcast_selected"]
    inlines = [StatusEventInline]
    readonly_fields = [
        "id",
        "owner",
        "filename",
        "media_url",
        "seq",
        "retry_count",
        "max_retries",
        "error",
        "result",
        "created_at",
        "updated_at",
        "worker",
        "heartbeat_at",
    ]

    def get_form(self, request: HttpRequest, obj: Analysis | None = None, change: bool = False, **kwargs):
        kwargs["form"] = AnalysisChangeForm if obj is not None else AnalysisAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Analysis | None = None) -> list[str]:
        return self.readonly_fields if obj is not None else []

    def get_fieldsets(self, request: HttpRequest, obj: Analysis | None = None):
        if obj is None:
            return [(None, {"fields": ["owner", "filename", "media_url", "max_retries"]})]
        return [
            (None, {"fields": ["id", "owner", "filename", "media_url", "seq", "created_at", "updated_at"]}),
            ("Status", {"fields": ["status", "stage", "progress", "message", "retry_count", "max_retries"]}),
            (
                "Failure and result",
                {"fields": ["error", "error_code", "error_detail", "result", "verdict", "confidence"]},
            ),
            ("Worker", {"fields": ["worker", "heartbeat_at"], "classes": ["collapse"]}),
        ]

    def get_inlines(self, request: HttpRequest, obj: Analysis | None):
        return self.inlines if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Analysis, form, change: bool) -> None:
        if not change:
            created = analysis_create(
                owner=form.cleaned_data["owner"],
                filename=form.cleaned_data["filename"],
                media_url=form.cleaned_data.get("media_url") or "",
                max_retries=form.cleaned_data["max_retries"],
            )
            obj.pk = created.pk
            return
        if form.change is not None:
            # A concurrent writer can still win between the form check and here; the service
            # then refuses and changeform_view turns that into a message.
            analysis_transition(analysis_id=obj.pk, change=form.change, actor=request.user.get_username())

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """History is read-only: nothing related is saved from the form."""
        for formset in formsets:
            # The admin's change message reads what formset.save() would have recorded.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except TransitionError as refused:
            self.message_user(request, f"Refused: {refused.detail}", messages.ERROR)
            return HttpResponseRedirect(request.path)

    def _per_row(
        self, request: HttpRequest, queryset: QuerySet[Analysis], verb: str, act: Callable[[Analysis], str]
    ) -> None:
        for analysis in queryset:
            try:
                outcome = act(analysis)
            except TransitionError as refused:
                self.message_user(request, f"{analysis.filename}: not {verb}: {refused.detail}", messages.WARNING)
            else:
                self.message_user(request, f"{analysis.filename}: {outcome}", messages.SUCCESS)

    def _transition_each(self, request: HttpRequest, queryset: QuerySet[Analysis], verb: str, change: Change) -> None:
        actor = request.user.get_username()

        def act(analysis: Analysis) -> str:
            outcome = analysis_transition(analysis_id=analysis.pk, change=change, actor=actor)
            return f"{verb} (event #{outcome.event.seq})."

        self._per_row(request, queryset, verb, act)

    @admin.action(description="Cancel selected analyses", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Analysis]) -> None:
        self._transition_each(
            request, queryset, "cancelled", Change(status=Status.CANCELLED, message="Cancelled by staff")
        )

    @admin.action(description="Retry selected failed analyses", permissions=["change"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Analysis]) -> None:
        self._transition_each(request, queryset, "retried", Change(status=Status.QUEUED, message="Retried by staff"))

    @admin.action(description="Re-broadcast the current status of selected analyses", permissions=["view"])
    def rebroadcast_selected(self, request: HttpRequest, queryset: QuerySet[Analysis]) -> None:
        def act(analysis: Analysis) -> str:
            snapshot = analysis_request_broadcast(analysis=analysis)
            return f"broadcast at seq {snapshot['seq']}."

        self._per_row(request, queryset, "broadcast", act)
