"""The live pages: thin views that read through the analyses selectors and render a template.

Each page is rendered complete on the server; status-client.js then keeps it current from
the WebSocket, starting from the seq the page was rendered at, so nothing falls in between.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from analyses.contract import NOT_FOUND
from analyses.selectors import analysis_get_readable, analysis_list, can_read_all, event_history
from analyses.state_machine import TERMINAL, Status

#: The dashboard shows the newest analyses only; older ones are in the API and the admin.
DASHBOARD_LIMIT = 200
#: Events rendered on a detail page; the client replays any later ones when it subscribes.
TIMELINE_LIMIT = 1000
WS_PATH = "/ws/status/"


def _client_config(**extra) -> dict:
    """What the page scripts need to know, handed over with json_script."""
    return {
        "wsPath": WS_PATH,
        "liveRoot": reverse("live:dashboard"),
        "terminal": sorted(status.value for status in TERMINAL),
        "maxSubscriptions": settings.REALTIME["MAX_SUBSCRIPTIONS"],
        **extra,
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    analyses = list(analysis_list(user=request.user)[:DASHBOARD_LIMIT])
    return render(
        request,
        "live/dashboard.html",
        {
            "analyses": analyses,
            "show_owner": can_read_all(request.user),
            "statuses": [status.value for status in Status],
            "limit_reached": len(analyses) == DASHBOARD_LIMIT,
            "dashboard_limit": DASHBOARD_LIMIT,
            "live_config": _client_config(apiList=reverse("analysis-list"), dashboardLimit=DASHBOARD_LIMIT),
        },
    )


@login_required
def detail(request: HttpRequest, analysis_id: str) -> HttpResponse:
    analysis = analysis_get_readable(user=request.user, analysis_id=analysis_id)
    if analysis is None:
        # The same answer for a missing analysis and for someone else's.
        raise Http404(NOT_FOUND)
    events, _ = event_history(analysis_id=analysis.pk, limit=TIMELINE_LIMIT)
    last_seq = events[-1].seq if events else 0
    return render(
        request,
        "live/detail.html",
        {
            "analysis": analysis,
            "events": events,
            "live_config": _client_config(analysisId=str(analysis.pk), snapshotSeq=analysis.seq, timelineSeq=last_seq),
        },
    )
