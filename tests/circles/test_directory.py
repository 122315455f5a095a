"""The directory page: search, filters, pages (with and without htmx), caching, by persona."""

from __future__ import annotations

import base64
import re
from datetime import time
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.authentication import token_for
from accounts.models import User
from circles import paging, selectors, services
from circles.api import BAD_CURSOR, NOT_A_ZONE
from circles.models import Circle, Membership
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.conftest import capture_all_queries, force_signed_in
from tests.proc import child_env, client_run, manage

pytestmark = pytest.mark.django_db(databases="__all__")

PERSONAS = ["anonymous", "circle_member", "facilitator", "outsider"]
HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(request: pytest.FixtureRequest, persona: str) -> Client:
    if persona == "anonymous":
        return Client()
    return force_signed_in(request.getfixturevalue(persona))


def page(client: Client, query: str = "", **headers: str) -> str:
    response = client.get(f"/circles/?{query}", **headers)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def slugs(html: str) -> list[str]:
    """The circles a page lists, in order."""
    return re.findall(r'<h2><a href="/circles/([^/"]+)/">', html)


def card(html: str, slug: str) -> str:
    """The card of one circle on a directory page."""
    start = html.index(f'href="/circles/{slug}/"')
    return html[start : html.index("</article>", start)]


@pytest.fixture
def shelf(circle: Circle) -> dict[str, Circle]:
    """Circles to search among: two listed, one unlisted, one closed (and Brooklyn Tuesday)."""
    oak = make_circle(
        name="Oak Table",
        slug="oak-table",
        public_area="Mission, San Francisco",
        time_zone="America/Los_Angeles",
        description="Men grieving a loss meet around one table.",
    )
    harbour = make_circle(
        name="Harbour Lights",
        slug="harbour-lights",
        public_area="Camden, London",
        time_zone="Europe/London",
        description="New fathers and old hands.",
    )
    hidden = make_circle(
        name="Oak Hidden", slug="oak-hidden", is_listed=False, description="grieving men"
    )
    closed = make_circle(
        name="Oak Closed", slug="oak-closed", status=Circle.Status.CLOSED, description="grieving"
    )
    return {"oak": oak, "harbour": harbour, "hidden": hidden, "closed": closed}


# --- Search, by persona ---------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("harbour", ["harbour-lights"]),  # by name
        ("Mission", ["oak-table"]),  # by public area
        ("francisco", ["oak-table"]),
        ("grieving", ["oak-table"]),  # by a description word
        ("grieve", ["oak-table"]),  # the word's stem
        ("harb", ["harbour-lights"]),  # the start of a word
        ("fathers camden", ["harbour-lights"]),  # every word, across the fields
        ("oak", ["oak-table"]),  # never the unlisted or the closed Oak
        ("brooklyn", ["brooklyn-tuesday"]),
        ("fathers brooklyn", []),
    ],
)
def test_search_finds_listed_circles_by_name_area_and_description(
    request: pytest.FixtureRequest, shelf: dict[str, Circle], persona: str, q: str, found: list
) -> None:
    html = page(client_for(request, persona), f"q={q}")

    assert slugs(html) == found
    assert "oak-hidden" not in html and "oak-closed" not in html
    assert f'value="{q}"' in html  # the search box keeps what he typed


def test_a_member_of_an_unlisted_or_closed_circle_does_not_find_it_either(
    shelf: dict[str, Circle],
) -> None:
    man = make_verified("una@example.com", full_name="Una Listed")
    join(man, shelf["hidden"])
    join(man, shelf["closed"])

    html = page(force_signed_in(man), "q=grieving")

    assert slugs(html) == ["oak-table"]


def test_search_combines_with_the_filters(shelf: dict[str, Circle]) -> None:
    assert slugs(page(Client(), "q=oak&weekday=1")) == ["oak-table"]
    assert slugs(page(Client(), "q=oak&weekday=3")) == []
    assert slugs(page(Client(), "q=oak&kind=online")) == []


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("time_zone=Europe/London", ["harbour-lights"]),
        ("time_zone=Europe", ["harbour-lights"]),
        ("time_zone=America/Los_Angeles", ["oak-table"]),
        ("time_zone=America", ["brooklyn-tuesday", "oak-table"]),
        ("time_zone=Asia/Tokyo", []),  # a real zone no circle meets in
        ("time_zone=", ["brooklyn-tuesday", "harbour-lights", "oak-table"]),
    ],
)
def test_the_time_zone_filter_takes_a_zone_or_a_region(
    shelf: dict[str, Circle], query: str, found: list[str]
) -> None:
    assert slugs(page(Client(), query)) == found


def test_the_time_zone_filter_offers_the_zones_circles_meet_in(shelf: dict[str, Circle]) -> None:
    html = page(Client())
    select = html[html.index('name="time_zone"') : html.index("</select>", html.index("time_zone"))]

    assert '<option value="Europe/London">London time</option>' in select
    assert '<option value="Europe">Anywhere in Europe</option>' in select
    assert "New York time" in select and "Los Angeles time" in select
    assert "Tokyo" not in select
    assert "Tokyo time" in page(Client(), "time_zone=Asia/Tokyo")  # still says what he chose


@pytest.mark.parametrize("value", ["Mars/Olympus", "Europe/Nowhere", "etc", "UTC/x"])
def test_a_time_zone_that_is_none_says_so_and_the_other_filters_still_apply(
    shelf: dict[str, Circle], value: str
) -> None:
    html = page(Client(), f"time_zone={value}&q=harbour")

    assert "not understood" in html
    assert "Pick a time zone or region from the list." in html
    assert slugs(html) == ["harbour-lights"]


@pytest.mark.parametrize(
    "q",
    [
        "x" * 5000,
        "'; DROP TABLE circles_circle; --",
        "harbour' OR 1=1 --",
        "x & y | !z <-> q:*",
        "(((",
        "\u041d\u0430rb\u043eur",  # Harbour with Cyrillic look-alike letters
        "שלום עולם",
        "the and of",  # only English stop words
        "%_%",
        "\\",
    ],
)
def test_a_strange_search_is_a_clear_empty_result(shelf: dict[str, Circle], q: str) -> None:
    html = page(Client(), "q=" + q.replace("%", "%25").replace("&", "%26").replace("#", "%23"))

    assert slugs(html) == []
    assert "No circle matches “" in html
    assert Circle.objects.count() == 5  # and nothing changed


def test_a_nul_in_the_search_is_the_sites_clear_400(shelf: dict[str, Circle]) -> None:
    response = Client().get("/circles/?q=oak%00")

    assert response.status_code == 400
    assert b"This request could not be read" in response.content


def test_punctuation_around_a_real_word_still_finds_it(shelf: dict[str, Circle]) -> None:
    assert slugs(page(Client(), "q=%22harbour%22%21")) == ["harbour-lights"]
    assert slugs(page(Client(), "q=++harbour++")) == ["harbour-lights"]
    assert slugs(page(Client(), "q=Oak\u200bTable")) == ["oak-table"]  # a zero-width space


def test_full_width_letters_from_a_phone_keyboard_read_as_plain_ones(
    shelf: dict[str, Circle],
) -> None:
    assert slugs(page(Client(), "q=\uff28\uff41\uff52\uff42\uff4f\uff55\uff52")) == [
        "harbour-lights"
    ]


# --- Pages ----------------------------------------------------------------------------


@pytest.fixture
def many(db: None) -> list[str]:
    """45 listed circles, five of them sharing one name: the slugs in directory order."""
    circles = Circle.objects.bulk_create(
        Circle(
            name="Twin Oaks" if n < 5 else f"Circle {n:02}",
            slug=f"c-{n:02}",
            weekday=n % 7,
            start_time=time(19),
            status=Circle.Status.OPEN,
        )
        for n in range(45)
    )
    return [c.slug for c in sorted(circles, key=lambda c: (c.name, c.pk))]


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages_follow_each_other_without_overlap_in_name_then_id_order(
    request: pytest.FixtureRequest, many: list[str], persona: str
) -> None:
    client = client_for(request, persona)
    others = {"brooklyn-tuesday", "other-circle"}  # the personas' own circles

    pages = [[s for s in slugs(page(client, f"page={n}")) if s not in others] for n in (1, 2, 3)]

    assert len(slugs(page(client))) == paging.PAGE_SIZE
    assert [slug for one in pages for slug in one] == many


def test_page_links_keep_the_filters_and_work_without_javascript(many: list[str]) -> None:
    first = page(Client(), "kind=in_person&q=circle")
    nxt = re.search(r'<a href="\?([^"]+)" rel="next">Next page</a>', first)

    assert nxt is not None
    link = nxt.group(1).replace("&amp;", "&")
    assert link == "q=circle&kind=in_person&page=2"
    second = page(Client(), link)
    assert 'rel="prev"' in second and "Page 2" in second
    assert set(slugs(first)).isdisjoint(slugs(second))
    assert len(slugs(first) + slugs(second)) == 40  # "Circle NN", not the Twin Oaks


def test_the_last_page_has_no_next_and_a_single_page_no_page_links(many: list[str]) -> None:
    last = page(Client(), "page=3")

    assert 'rel="next"' not in last and "More circles" not in last
    assert 'rel="prev"' in last
    only = page(Client(), "q=twin")
    assert slugs(only) == many[40:] == ["c-00", "c-01", "c-02", "c-03", "c-04"]  # then by id
    assert "Page 1" not in only and 'rel="prev"' not in only and 'rel="next"' not in only


@pytest.mark.parametrize(
    ("asked", "shown", "note"),
    [
        ("0", 1, "“0” is not a page number: here is the first page."),
        ("-1", 1, "“-1” is not a page number: here is the first page."),
        ("abc", 1, "“abc” is not a page number: here is the first page."),
        ("1.5", 1, "“1.5” is not a page number: here is the first page."),
        ("9" * 5000, 1, "is not a page number: here is the first page."),
        ("4", 3, "There is no page 4: here is the last page."),
        ("99999999999999999999", 3, "here is the last page."),
        ("", 1, None),
    ],
)
def test_a_bad_page_says_so_and_shows_the_nearest_page(
    many: list[str], asked: str, shown: int, note: str | None
) -> None:
    html = page(Client(), f"page={asked}")

    assert slugs(html) == many[(shown - 1) * 20 : shown * 20]
    if note:
        assert note in html
    else:
        assert "not a page number" not in html and "no page" not in html


def test_past_the_end_of_an_empty_search_is_the_empty_first_page(many: list[str]) -> None:
    html = page(Client(), "q=nothing&page=5")

    assert slugs(html) == []
    assert "There is no page 5" in html
    assert "No circle matches “nothing”." in html


def test_htmx_more_returns_only_the_next_circles_and_the_next_link(many: list[str]) -> None:
    response = Client().get("/circles/?weekday=&page=2", **HTMX)
    html = response.content.decode()

    assert response.status_code == 200
    assert "<html" not in html and "<form" not in html and "<h1" not in html
    assert slugs(html) == many[20:40]
    assert html.rstrip().endswith("</nav>")
    assert 'id="directory-pages"' in html
    assert 'hx-get="/circles/?page=3"' in html
    assert "HX-Request" in response["Vary"]
    # The page as a whole carries the button that asks for it.
    full = page(Client())
    assert 'hx-get="/circles/?page=2" hx-target="#directory-pages" hx-swap="outerHTML"' in full
    assert 'href="?page=2" role="button"' in full


def test_htmx_more_past_the_end_appends_nothing(many: list[str]) -> None:
    html = Client().get("/circles/?page=7", **HTMX).content.decode()

    assert slugs(html) == []
    assert "No more circles." in html


def test_an_htmx_history_restore_gets_the_whole_page(many: list[str]) -> None:
    html = page(Client(), "page=2", **HTMX, HTTP_HX_HISTORY_RESTORE_REQUEST="true")

    assert "<html" in html and "<form" in html
    assert slugs(html) == many[20:40]


# --- Queries and the cache ------------------------------------------------------------


def _queries(client: Client, url: str, **headers: str) -> list[str]:
    with capture_all_queries() as captured:
        assert client.get(url, **headers).status_code == 200
    return [q["sql"] for c in captured.values() for q in c]


@pytest.mark.parametrize(
    "url",
    ["/circles/", "/circles/?q=circle", "/circles/?page=2&open_seats=on", "/circles/?page=99"],
)
def test_the_directory_costs_the_same_queries_for_few_and_many_circles_and_no_count(
    circle_member: User, url: str
) -> None:
    client = force_signed_in(circle_member)
    fellow = make_verified("fay@example.com", full_name="Fay Fellow")
    for n in range(25):
        join(fellow, make_circle(name=f"Circle {n:03}"), role=Membership.Role.FACILITATOR)
    few = _queries(client, url)
    for n in range(25, 125):
        join(fellow, make_circle(name=f"Circle {n:03}"), role=Membership.Role.FACILITATOR)
    lots = _queries(client, url)

    assert len(lots) == len(few)
    counts = [sql for sql in lots if '"__count"' in sql]
    assert counts == [] or ("page=99" in url and len(counts) == 1)
    # The count past the end reads circles alone, never their memberships.
    assert all("circles_membership" not in sql for sql in counts)


def test_the_directory_page_reads_only_the_columns_it_shows(circle: Circle) -> None:
    sql = next(s for s in _queries(Client(), "/circles/") if " LIMIT " in s)

    assert '"circles_circle"."name"' in sql
    for column in ("private_address", "video_link", "first_night", "created_at", "starts_on"):
        assert column not in sql


def test_a_second_look_reads_the_listing_from_the_cache(many: list[str]) -> None:
    first = _queries(Client(), "/circles/?page=2")
    again = _queries(Client(), "/circles/?page=2")

    assert any("circles_circle" in sql for sql in first)
    assert again == []


# --- Caching: a change shows at once ---------------------------------------------------


def test_a_join_and_a_leave_show_at_once_in_seats_and_the_open_seats_filter(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    Circle.objects.filter(pk=circle.pk).update(capacity=3)
    before = page(Client())
    assert "3 seats, 2 taken" in card(before, "brooklyn-tuesday")
    assert "brooklyn-tuesday" in slugs(page(Client(), "open_seats=on"))

    newcomer = make_verified("neil@example.com", full_name="Neil Newcomer")
    services.membership_request(circle=circle, user=newcomer, agreement_version=1)

    assert "Full: waitlist open" in card(page(Client()), "brooklyn-tuesday")
    assert "brooklyn-tuesday" not in slugs(page(Client(), "open_seats=on"))

    services.membership_leave(membership=Membership.objects.get(user=circle_member))

    assert "3 seats, 2 taken" in card(page(Client()), "brooklyn-tuesday")
    assert "brooklyn-tuesday" in slugs(page(Client(), "open_seats=on"))


def test_a_cached_page_was_in_the_cache_before_each_change() -> None:
    # What the next tests rely on: without a change, the second look is the cached one.
    circle = make_circle(name="Quiet Pines", slug="quiet-pines")
    page(Client())
    Circle.objects.filter(pk=circle.pk).update(name="Changed Behind The Cache")  # no signal
    assert "Quiet Pines" in page(Client())


@pytest.mark.parametrize(
    ("change", "query", "shown", "hidden"),
    [
        ({"name": "Cedar Room"}, "", "Cedar Room", "Quiet Pines"),
        ({"name": "Cedar Room"}, "q=cedar", "Cedar Room", None),
        ({"description": "Drums at dawn."}, "", "Drums at dawn.", "A calm evening."),
        ({"description": "Drums at dawn."}, "q=drums", "Drums at dawn.", None),
        ({"public_area": "Old Town"}, "q=old+town", "Old Town", None),
        ({"status": Circle.Status.CLOSED}, "", None, "Quiet Pines"),
        ({"is_listed": False}, "", None, "Quiet Pines"),
        ({"time_zone": "Europe/Paris"}, "time_zone=Europe", "Quiet Pines", None),
    ],
)
def test_an_edit_of_a_circle_shows_at_once(
    change: dict[str, object], query: str, shown: str | None, hidden: str | None
) -> None:
    circle = make_circle(name="Quiet Pines", slug="quiet-pines", description="A calm evening.")
    page(Client(), query)
    page(Client())

    for field, value in change.items():
        setattr(circle, field, value)
    circle.save()
    html = page(Client(), query)

    if shown:
        assert shown in html
    if hidden:
        assert hidden not in html


def test_a_facilitators_new_name_shows_at_once(circle: Circle, facilitator: User) -> None:
    assert "Fred F." in page(Client())

    facilitator.full_name = "Frank Fisher"
    facilitator.save(update_fields=["full_name"])

    html = page(Client())
    assert "Frank F." in html and "Fred F." not in html


def test_a_cached_page_never_shows_one_mans_time_to_another() -> None:
    make_circle(
        name="Online Pines",
        slug="online-pines",
        location_kind=Circle.LocationKind.ONLINE,
        time_zone="America/Los_Angeles",
    )
    tokyo = make_verified("taro@example.com", full_name="Taro Tokyo", time_zone="Asia/Tokyo")
    york = make_verified("nate@example.com", full_name="Nate York", time_zone="America/New_York")
    kyoto = make_verified("kenji@example.com", full_name="Kenji Kyoto", time_zone="Asia/Tokyo")

    his = page(force_signed_in(tokyo))
    other = page(force_signed_in(york))
    anonymous = page(Client())
    same_zone = page(force_signed_in(kyoto))

    assert "(Wednesdays " in card(his, "online-pines") and "your time" in his
    assert "(10:00 pm your time)" in card(other, "online-pines")
    assert "your time" not in anonymous
    assert "Taro" not in other and "Taro" not in anonymous and "Taro" not in same_zone
    assert card(same_zone, "online-pines") == card(his, "online-pines")
    assert "Nate" not in his and "Kenji" not in his


# --- Who may see it ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_everyone_sees_the_directory_and_no_one_private_details(
    request: pytest.FixtureRequest, shelf: dict[str, Circle], persona: str
) -> None:
    html = page(client_for(request, persona))

    assert slugs(html) == ["brooklyn-tuesday", "harbour-lights", "oak-table"]
    assert "221B Secret Street" not in html and "secret-room" not in html


def test_the_directory_takes_no_post(circle: Circle) -> None:
    assert Client().post("/circles/").status_code == 405


# --- The same on the API -----------------------------------------------------------------

CIRCLES = "/api/v1/circles/"
MEETINGS = "/api/v1/meetings/"


def api(request: pytest.FixtureRequest, persona: str) -> APIClient:
    """A client with the persona's JWT (none for anonymous)."""
    client = APIClient()
    if persona != "anonymous":
        user = request.getfixturevalue(persona)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user).access_token}")
    return client


def api_slugs(client: APIClient, query: str) -> list[str]:
    response = client.get(f"{CIRCLES}?{query}")
    assert response.status_code == 200, response.content
    return [c["slug"] for c in response.json()["results"]]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("q=harbour", ["harbour-lights"]),
        ("q=Mission", ["oak-table"]),
        ("q=grieving", ["oak-table"]),
        ("q=harb", ["harbour-lights"]),
        ("q=oak", ["oak-table"]),
        ("q=", ["brooklyn-tuesday", "harbour-lights", "oak-table"]),
        ("time_zone=Europe", ["harbour-lights"]),
        ("time_zone=America/Los_Angeles&q=table", ["oak-table"]),
        ("q=x%27%3B+DROP+TABLE+circles_circle%3B+--", []),
        ("q=" + "y" * 3000, []),
        ("q=%E2%9C%A8%28%28", []),
    ],
)
def test_the_api_searches_and_filters_like_the_directory(
    request: pytest.FixtureRequest, shelf: dict[str, Circle], persona: str, query: str, found: list
) -> None:
    assert api_slugs(api(request, persona), query) == found


@pytest.mark.parametrize("value", ["Mars", "Europe/Nowhere", "Etc/GMT+5"])
def test_a_bad_time_zone_is_a_400_naming_it(shelf: dict[str, Circle], value: str) -> None:
    response = APIClient().get(f"{CIRCLES}?time_zone={value}")

    assert response.status_code == 400
    assert response.json() == {"time_zone": [NOT_A_ZONE]}


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_cursor_pages_follow_each_other_in_a_stable_order_without_overlap(
    request: pytest.FixtureRequest, persona: str
) -> None:
    Circle.objects.bulk_create(
        Circle(
            name="Twin Oaks" if n < 60 else f"Circle {n:03}",
            slug=f"c-{n:03}",
            weekday=n % 7,
            start_time=time(19),
            status=Circle.Status.OPEN,
        )
        for n in range(120)
    )
    client = api(request, persona)
    expected = list(
        Circle.objects.filter(is_listed=True).order_by("name", "pk").values_list("slug", flat=True)
    )

    seen, url, pages = [], f"{CIRCLES}?kind=in_person", 0
    while url:
        body = client.get(url).json()
        assert set(body) == {"next", "previous", "results"}
        seen += [c["slug"] for c in body["results"]]
        url, pages = body["next"], pages + 1
        assert url is None or "kind=in_person" in url

    assert seen == expected
    assert pages == -(-len(expected) // 50)
    last = client.get(body["previous"]).json() if body["previous"] else None
    assert (
        last is None
        or [c["slug"] for c in last["results"]]
        == seen[-len(body["results"]) - 50 : -len(body["results"])]
    )


def test_the_api_lists_make_no_count(db: None, member: User) -> None:
    circle = make_circle(name="Counted")
    join(member, circle)
    for n in range(60):
        make_meeting(circle, in_days=n + 1)
    jwt = APIClient()
    jwt.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(member).access_token}")

    for url in (CIRCLES, f"{CIRCLES}?q=counted&open_seats=true", MEETINGS):
        first = _queries(jwt, url)
        nxt = jwt.get(url).json()["next"]
        assert not any('"__count"' in sql or "COUNT(*)" in sql for sql in first), url
        if nxt:
            assert not any('"__count"' in sql for sql in _queries(jwt, nxt))


def _cursor(raw: str) -> str:
    return quote(base64.b64encode(raw.encode()).decode())


@pytest.mark.parametrize(
    ("url", "cursor"),
    [
        (CIRCLES, "garbage"),
        (CIRCLES, "%E2%9C%A8"),
        (CIRCLES, _cursor("p=x")),  # no id
        (CIRCLES, _cursor("k=5")),  # no position
        (CIRCLES, _cursor("p=x&k=-5")),
        (CIRCLES, _cursor("p=x&k=99999999999999999999999")),
        (CIRCLES, _cursor("r=1&p=a%00b&k=1")),  # a NUL inside the position
        (CIRCLES, _cursor("p=a&p=b&k=1")),
        (MEETINGS, _cursor("p=not-a-time&k=1")),
        (MEETINGS, _cursor("p=2026-13-45 99:00:00&k=1")),
        (MEETINGS, _cursor("p=2026-12-01 19:00:00&k=1")),  # no offset: not one of ours
        (MEETINGS, _cursor("p=a%00b&k=1")),
    ],
)
def test_a_cursor_the_list_did_not_give_is_a_clear_404(member: User, url: str, cursor: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(member).access_token}")

    response = client.get(f"{url}?cursor={cursor}")

    assert response.status_code == 404
    assert response.json() == {"detail": BAD_CURSOR}


def test_a_made_up_cursor_that_is_well_formed_just_starts_there(many: list[str]) -> None:
    # A name and an id: the circles after them, like any cursor we gave.
    body = APIClient().get(f"{CIRCLES}?cursor={_cursor('p=Circle 39&k=0')}").json()

    assert [c["slug"] for c in body["results"]] == many[many.index("c-39") :]


# --- The embedded default ----------------------------------------------------------------

MAKE_CIRCLES = """
from datetime import time
from circles.models import Circle
for n, (name, area) in enumerate([("Oak Table", "Mission"), ("Harbour Lights", "Camden")]):
    Circle.objects.create(name=name, slug=f"s-{n}", weekday=1, start_time=time(19),
                          status="open", public_area=area, description="Fathers welcome.")
"""


def test_on_sqlite_search_falls_back_to_a_plain_match_and_pages_still_work(tmp_path) -> None:
    env = child_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'main.sqlite3'}",
        CREDS_DATABASE_URL=f"sqlite:///{tmp_path / 'creds.sqlite3'}",
    )
    assert manage("migrate", "--noinput", env=env).returncode == 0  # the GIN index is skipped
    made = manage("shell", "-c", MAKE_CIRCLES, env=env)
    assert made.returncode == 0, made.stderr

    queries = ["q=harb", "q=camden", "q=FATHERS", "q=fathers+mission", "q=%27%3B--", "page=abc"]
    results, _ = client_run([{"do": "get", "path": f"/circles/?{q}"} for q in queries], env)

    found = [slugs(r["text"]) for r in results]
    assert [r["status"] for r in results] == [200] * len(queries)
    assert found == [["s-1"], ["s-1"], ["s-1", "s-0"], ["s-0"], [], ["s-1", "s-0"]]
    assert "is not a page number" in results[-1]["text"]


def test_the_search_can_be_answered_by_its_gin_index(shelf: dict[str, Circle]) -> None:
    # With five rows the planner would scan; forbidding that shows the index fits the query.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = selectors.directory(q="harbour lights").explain()

    assert "circle_search" in plan
    assert "Seq Scan on circles_circle" not in plan
