"""The API keeps its published contract under schemathesis: anonymous, as a member, forged.

For every operation in `/api/v1/schema/`, schemathesis generates requests that fit
the schema and requests that break it, sent in-process through Django's real WSGI
handler (middleware, DRF, both databases) inside the test's transaction, each example
rolled back. In-process rather than a live server: the fixtures' rows are visible
without committing them, there is no port or process to manage, and a run costs a
fraction of HTTP's time on a 2-core machine. Checked on every response:

- no status >= 500, and no unhandled exception or ERROR line logged;
- the status code is one the schema documents for the operation;
- the content type and the body match what the schema says for that status.

Personas: nobody (no credentials), a member (his real JWT; his own circle and meeting
are among the ids tried), and a forger (a made-up bearer token and session cookie, and
query parameters nobody asked for).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.authentication import token_for
from circles import services
from circles.models import Circle
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.events.conftest import add_question, make_event
from tests.fuzz.conftest import fuzz_settings, rolled_back

pytestmark = pytest.mark.django_db(databases="__all__")

SCHEMA_URL = "/api/v1/schema/?format=json"
# At most, per operation and persona (16 x 3); fewer where the inputs run out.
EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

APP = get_wsgi_application()


@cache
def api_schema() -> Any:
    return schemathesis.openapi.from_wsgi(SCHEMA_URL, APP)


def operations() -> list[str]:
    return sorted(result.ok().label for result in api_schema().get_all_operations() if result.ok())


# Latin-1 without control characters, not starting with a space: what a header can carry.
_HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80).filter(
    lambda text: not text[:1].isspace()
)
FORGED = st.fixed_dictionaries(
    {
        "headers": st.fixed_dictionaries(
            {
                "Authorization": st.one_of(
                    _HEADER_TEXT.map("Bearer {}".format),
                    _HEADER_TEXT,
                    st.sampled_from(["Bearer", "Bearer a b", "Basic Zm9vOmJhcg=="]),
                )
            }
        ),
        "cookies": st.fixed_dictionaries({"sessionid": _HEADER_TEXT.filter(str.isprintable)}),
        # Query parameters no operation takes, NUL and all.
        "params": st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3),
    }
)


@dataclass
class World:
    headers: dict[str, str]
    path_parameters: dict[str, Any]

    def credentials(self, persona: str) -> st.SearchStrategy[dict[str, Any]]:
        if persona == "forged":
            return FORGED
        return st.just({"headers": self.headers if persona == "member" else None})


@pytest.fixture
def world() -> World:
    """A member of a circle with a meeting coming up, an unlisted circle, another circle,
    and an event of one seat with a required question."""
    circle = make_circle()
    services.agreement_publish(circle=circle, text="What is said here stays here.")
    man = make_verified("ben@example.com", full_name="Ben Member")
    join(man, circle)
    services.agreement_accept(user=man, circle=circle, version=1)
    meeting = make_meeting(circle)
    make_circle(is_listed=False)
    make_circle(status=Circle.Status.FULL)
    # An event under the circle's slug: the events operations get a real one too.
    event = make_event(slug=circle.slug, capacity=1)
    add_question(event, "Dietary needs", required=True)
    access = str(token_for(man).access_token)
    return World(
        headers={"Authorization": f"Bearer {access}"},
        path_parameters={"slug": circle.slug, "id": meeting.pk},
    )


@pytest.mark.parametrize("persona", ["anonymous", "member", "forged"])
@pytest.mark.parametrize("label", operations())
def test_the_api_keeps_its_contract(
    label: str, persona: str, world: World, in_process: None, server_errors
) -> None:
    operation = api_schema().find_operation_by_label(label)
    real = {k: v for k, v in world.path_parameters.items() if k in _path_names(operation)}
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    if real:
        # Also on the member's own circle and meeting, not only ids that match nothing.
        strategies.append(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real)
        )

    @fuzz_settings(EXAMPLES)
    @given(case=st.one_of(strategies), credentials=world.credentials(persona))
    def fuzz(case: schemathesis.Case, credentials: dict[str, Any]) -> None:
        with rolled_back():
            case.call_and_validate(checks=CHECKS, **credentials)
            server_errors.assert_none(f"while serving {case.method} {case.formatted_path}")

    fuzz()


def _path_names(operation: Any) -> set[str]:
    return {parameter.name for parameter in operation.path_parameters}
