"""Fuzzing the REST API with schemathesis against a real daphne: no 5xx, and every answer as the schema says.

Every operation of /api/schema/ gets generated requests, valid and invalid, as a staff user and
as an analyst (token endpoints, which take no credentials, once), through the same HTTP stack
clients use (test settings, the test database, the real Redis). Each response must not be a
5xx, must have a documented status code and content type, and its body and headers must match
the schema of that status. Now and then a path id is an existing analysis, and a token endpoint's
body carries real credentials or a real refresh token, so the 2xx answers get checked too, not
only the errors.
"""

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import PASSWORD, access_token_for
from tests.servers import Server, daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server, pytest.mark.fuzz]

#: Generated cases per operation, mode (valid, invalid) and caller: about 1,300 requests in all.
CASES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def server() -> Iterator[Server]:
    # Creation is throttled at 120 a minute per user; the fuzzer creates faster than that and
    # would see mostly 429s. The throttle has tests of its own.
    with daphne(THROTTLE_CREATE_PER_MINUTE="100000", LOG_LEVEL="ERROR") as server:
        yield server


def fuzz(operation, mode, *, base_url: str, headers: dict, ids: list[str], bodies: list[dict], tally: Counter) -> None:
    """Run CASES generated cases of one operation; raises the first failing case's report."""

    @given(
        case=operation.as_strategy(generation_mode=mode),
        analysis_id=st.sampled_from([None, *ids]),
        real_fields=st.sampled_from([None, *bodies]),
    )
    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case, analysis_id, real_fields):
        if analysis_id is not None and "analysis_id" in (case.path_parameters or {}):
            case.path_parameters["analysis_id"] = analysis_id
        if real_fields is not None and isinstance(case.body, dict):
            case.body.update(real_fields)
        response = case.call(base_url=base_url, headers=headers, timeout=20)
        tally[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    run()


def test_every_operation_under_fuzzing_answers_as_documented(server, staff_user, owner, make_analysis, capsys):
    ids = [str(make_analysis(owner, filename=f"fuzz-{n}.mp4").pk) for n in range(3)]
    real_bodies = {
        "/api/token/": [{"username": owner.username, "password": PASSWORD}],
        "/api/token/refresh/": [{"refresh": str(RefreshToken.for_user(owner))}],
        # Each one can be revoked once; the rest of the cases find it revoked (401).
        "/api/token/blacklist/": [{"refresh": str(RefreshToken.for_user(owner))} for _ in range(5)],
    }
    callers = {
        "staff": {"Authorization": f"Bearer {access_token_for(staff_user)}"},
        "analyst": {"Authorization": f"Bearer {access_token_for(owner)}"},
    }
    schema = schemathesis.openapi.from_url(f"{server.http_url}/api/schema/?format=json")
    failures, lines, total = [], [], Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        takes_credentials = bool(operation.definition.raw.get("security"))
        for caller, headers in callers.items() if takes_credentials else [("anyone", {})]:
            for mode in schemathesis.GenerationMode:
                tally: Counter = Counter()
                try:
                    fuzz(
                        operation,
                        mode,
                        base_url=server.http_url,
                        headers=headers,
                        ids=ids,
                        bodies=real_bodies.get(operation.path, []),
                        tally=tally,
                    )
                except (Exception, BaseExceptionGroup) as failure:  # every operation runs; all are reported
                    failures.append(f"{operation.label} as {caller}, {mode.value}:\n{failure}")
                total.update(tally)
                statuses = " ".join(f"{status}x{count}" for status, count in sorted(tally.items()))
                lines.append(f"{operation.label:<48} {caller:<8} {mode.value:<9} {sum(tally.values()):>4}  {statuses}")
    with capsys.disabled():
        print(f"\nschemathesis: {sum(total.values())} requests, {len(lines)} runs of up to {CASES} cases")
        print("\n".join(lines))
    assert not failures, "\n\n".join(failures)
    assert all(status < 500 for status in total)
