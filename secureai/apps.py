from django.apps import AppConfig


class SecureAIConfig(AppConfig):
    """The project's own wiring: account receivers that revoke credentials."""

    name = "secureai"
    verbose_name = "SecureAI"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save, pre_save

        from . import accounts

        user_model = get_user_model()
        pre_save.connect(accounts.note_password_change, sender=user_model, dispatch_uid="secureai.note_password_change")
        post_save.connect(
            accounts.revoke_tokens_after_password_change,
            sender=user_model,
            dispatch_uid="secureai.revoke_tokens_after_password_change",
        )
