"""Filters the live templates share with the page scripts, so both spell values the same way."""

from datetime import datetime

from django import template

from analyses.payloads import iso_utc as _iso_utc

register = template.Library()


@register.filter
def code_label(code: str | None) -> str:
    """``face_detection`` -> ``face detection``; live-ui.js ``codeLabel`` does the same."""
    return code.replace("_", " ") if code else ""


@register.filter
def iso_utc(moment: datetime | None) -> str:
    return _iso_utc(moment) if moment else ""


@register.filter
def percent(value: float | str | None) -> str:
    """A confidence of 0..1 as a whole percentage; nothing for a missing one."""
    if value is None or value == "":
        return ""
    return f"{round(float(value) * 100)} %"
