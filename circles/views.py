from __future__ import annotations

import hashlib
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from circles import caching, calendar, fragments, paging, selectors, services, times
from circles import dashboard as dashboard_sections
from circles.forms import (
    AgreementForm,
    DirectoryFilterForm,
    JoinForm,
    LeaveForm,
    OfferForm,
    RSVPForm,
    SharingForm,
    WithdrawForm,
)
from circles.models import Circle, Meeting, Membership

ICS = "text/calendar; charset=utf-8"
# Those who once were in an unlisted circle no longer see it.
SHUT_OUT = selectors.ENDED
# In the circle, or asking or waiting to be: what "leave" ends (a request is withdrawn).
LEAVABLE = (*Membership.MEMBER_STATUSES, Membership.Status.REQUESTED, Membership.Status.WAITLISTED)


def _circle_or_404(request: HttpRequest, slug: str) -> tuple[Circle, Membership | None]:
    """The circle, if this person may see it: unlisted circles only to their members."""
    circle, membership = selectors.circle_and_membership(request.user, slug)
    if circle is None:
        raise Http404
    if not circle.is_listed and (membership is None or membership.status in SHUT_OUT):
        raise Http404
    return circle, membership


def _active_membership_or_404(request: HttpRequest, slug: str) -> tuple[Circle, Membership]:
    circle, membership = _circle_or_404(request, slug)
    if membership is None or membership.status != Membership.Status.ACTIVE:
        raise Http404
    return circle, membership


def _meeting_or_404(request: HttpRequest, pk: int) -> Meeting:
    """A meeting of one of the member's active circles; anything else is a 404."""
    meeting = selectors.my_meeting(request.user, pk)
    if meeting is None:
        raise Http404
    return meeting


def _meeting_scopes(request: HttpRequest, pk: int) -> list[str] | None:
    circle_id = caching.meeting_circle_id(pk)
    return None if circle_id is None else [caching.circle_scope(circle_id)]


# The directory's own query parameters: any other is not a page worth keeping.
DIRECTORY_PARAMS = frozenset({"q", "weekday", "kind", "time_zone", "open_seats", "page"})


def _listing_scopes(request: HttpRequest) -> list[str]:
    return [caching.DIRECTORY]


def _circle_scopes(request: HttpRequest, slug: str) -> list[str] | None:
    circle_id = caching.circle_id_for(slug)
    return None if circle_id is None else [caching.circle_scope(circle_id), caching.SITE]


@require_GET
@vary_on_headers("HX-Request")
@caching.cached_page(_listing_scopes, params=DIRECTORY_PARAMS)
def directory(request: HttpRequest) -> HttpResponse:
    form = DirectoryFilterForm(request.GET or None, zones_in_use=_directory_zones())
    filters = form.filters()
    number, note = paging.page_number(request.GET.get("page"))
    more = bool(request.htmx) and not request.htmx.history_restore_request
    listing = _directory_listing(filters, number, times.reader_zone_name(request.user), more)
    if more:
        return HttpResponse(listing["html"])
    context = {"form": form, "listing": listing["html"], "note": note or listing["note"]}
    return render(request, "circles/directory.html", context)


def _directory_zones() -> list[str]:
    return caching.cached("directory-zones", selectors.directory_zones, scopes=[caching.DIRECTORY])


def _directory_listing(
    filters: dict[str, object], number: int, reader: str | None, more: bool
) -> dict[str, object]:
    """One page of the directory as HTML (cards and page links), cached until a listing changes.

    It depends on the filters, the page, the reader's time zone (online circles'
    times are said in his) and whether htmx asks for "more": nothing else about
    the man, so men in one zone share it.
    """
    query = urlencode([(name, "on" if v is True else v) for name, v in filters.items()])
    query = query + "&" if query else ""

    def make() -> dict[str, object]:
        page = paging.page_of(selectors.directory(**filters), number, past_the_end=not more)
        context = {"page": page, "query": query, "filters": filters, "reader_zone": reader}
        html = render_to_string("circles/fragment_directory.html", context)
        return {"html": html, "note": page.note}

    vary = hashlib.sha256(f"{query}page={number}|{reader}|{more}".encode()).hexdigest()
    return caching.cached("directory", make, scopes=[caching.DIRECTORY], vary=vary)


@require_GET
@caching.cached_page(_circle_scopes)
def detail(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle_or_404(request, slug)
    context = {
        "circle": circle,
        "membership": membership,
        "sharing_form": SharingForm(
            initial={"share_email": membership.share_email, "share_phone": membership.share_phone}
        )
        if membership
        else None,
        **fragments.circle_page(circle, membership),
        "answer_days": services.ANSWER_DAYS,
    }
    response = render(request, "circles/detail.html", context)
    # A cached copy lives no longer than the first meeting or offer it shows is current.
    response.cache_seconds = fragments.seconds_fresh(
        [fragments.ends(context["next_meeting"])]
        + [m.ends_at for m in context.get("upcoming", [])]
        + [getattr(membership, "offer_expires_at", None)]
    )
    return response


@login_required
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle_or_404(request, slug)
    agreement = services.current_agreement(circle)
    form = JoinForm(request.POST or None, initial={"version": agreement and agreement.version})
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.membership_request(
                circle=circle,
                user=request.user,
                agreement_version=form.cleaned_data["version"],
                introduction=form.cleaned_data["introduction"],
            )
        except services.CircleError as error:
            messages.error(request, error.message)
        else:
            if membership.status == Membership.Status.WAITLISTED:
                messages.info(request, services.ON_THE_WAITLIST)
            else:
                messages.success(request, services.REQUEST_SENT)
            if services.zone_from_circle(user=request.user, circle=circle):
                messages.info(
                    request,
                    services.ZONE_FROM_CIRCLE.format(zone=times.zone_label(circle.time_zone)),
                )
            return redirect(circle)
    context = {
        "circle": circle,
        "membership": membership,
        "agreement": agreement,
        "form": form,
        **selectors.join_page(circle, membership),
        "answer_days": services.ANSWER_DAYS,
    }
    return render(request, "circles/join.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle_or_404(request, slug)
    pending = membership is not None and membership.status in services.PENDING
    form = WithdrawForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if pending and services.membership_withdraw(membership=membership):
            messages.success(request, services.WITHDRAWN.format(circle=circle.name))
        else:
            messages.info(request, services.NOTHING_TO_WITHDRAW)
        return redirect(circle)
    if not pending:
        messages.info(request, services.NOTHING_TO_WITHDRAW)
        return redirect(circle)
    return render(
        request, "circles/withdraw.html", {"circle": circle, "membership": membership, "form": form}
    )


@login_required
@require_http_methods(["GET", "POST"])
def leave(request: HttpRequest, slug: str) -> HttpResponse:
    """Leaving asks first (GET shows what it means); the POST leaves, with an optional word."""
    circle, membership = _circle_or_404(request, slug)
    if membership is None or membership.status not in LEAVABLE:
        raise Http404
    form = LeaveForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_leave_saying(membership=membership, word=form.cleaned_data["word"])
        except services.CircleError as error:
            messages.error(request, error.message)
            return redirect(circle)
        if membership.status in Membership.MEMBER_STATUSES:
            messages.success(request, f"You have left {circle.name}. Your facilitator is told.")
        else:
            messages.success(request, f"You have left {circle.name}.")
        return redirect("circles:dashboard")
    context = {"circle": circle, "membership": membership, "form": form}
    return render(request, "circles/leave.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def answer_offer(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle_or_404(request, slug)
    form = OfferForm(request.POST)
    if membership is None or not form.is_valid():
        messages.error(request, services.NO_OFFER)
        return redirect("circles:dashboard")
    accept = form.cleaned_data["answer"] == "accept"
    try:
        (services.offer_accept if accept else services.offer_decline)(membership=membership)
    except services.CircleError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Welcome to {circle.name}." if accept else "Offer declined.")
    return redirect(circle if accept else "circles:dashboard")


@login_required
@require_POST
def accept_agreements(request: HttpRequest, slug: str) -> HttpResponse:
    circle, _membership = _active_membership_or_404(request, slug)
    form = AgreementForm(request.POST)
    try:
        version = form.cleaned_data["version"] if form.is_valid() else None
        services.agreement_accept(user=request.user, circle=circle, version=version)
    except services.CircleError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Thank you: you accepted the circle's agreements.")
    return redirect(circle)


@login_required
@require_POST
def sharing(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _active_membership_or_404(request, slug)
    form = SharingForm(request.POST)
    form.is_valid()  # two checkboxes: anything not "on" is off
    try:
        services.membership_sharing_set(
            membership=membership,
            share_email=form.cleaned_data["share_email"],
            share_phone=form.cleaned_data["share_phone"],
        )
    except services.CircleError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Your sharing choices are saved.")
    return redirect(circle)


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    body, dues = fragments.dashboard(request)
    context = {"body": body, "dues": dues, "sections": dashboard_sections.render_sections(request)}
    return render(request, "circles/dashboard.html", context)


@login_required
@require_GET
@caching.cached_page(_meeting_scopes)
def meeting(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting_or_404(request, pk)
    context = {"meeting": meeting, **fragments.meeting_page(meeting, request.user)}
    response = render(request, "circles/meeting.html", context)
    # Its answers close when it starts and it is over when it ends.
    now = timezone.now()
    response.cache_seconds = fragments.seconds_fresh(
        [m for m in (meeting.starts_at, meeting.ends_at) if m > now]
    )
    return response


@login_required
@require_POST
def rsvp(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting_or_404(request, pk)
    form = RSVPForm(request.POST)
    error = None
    if not form.is_valid():
        error = "Answer yes or no."
    else:
        try:
            services.rsvp_set(
                meeting=meeting,
                user=request.user,
                response=form.cleaned_data["response"],
                channel="web",
            )
        except services.CircleError as exc:
            error = exc.message
    if request.htmx:
        meeting.my_rsvp = selectors.my_rsvp(meeting, request.user)
        status = 400 if error else 200
        context = {"meeting": meeting, "error": error}
        return render(request, "circles/fragment_rsvp.html", context, status=status)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Thanks, your answer is saved.")
    return redirect(meeting)


@login_required
@require_GET
def meeting_ics(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting_or_404(request, pk)
    response = HttpResponse(calendar.meetings_ics([meeting], include_private=True), ICS)
    response["Content-Disposition"] = f'attachment; filename="meeting-{meeting.pk}.ics"'
    return response


FEED_MADE = "Your calendar link is ready: add it to your calendar app."
FEED_REPLACED = (
    "Your calendar link is replaced: the old one no longer works. "
    "Add the new one to your calendar app."
)
FEED_OFF = "Your calendar link is switched off."


def _feed_links(token: str | None) -> dict[str, str]:
    """His feed three ways: to copy, for Apple Calendar/Outlook (webcal), for Google Calendar."""
    if token is None:
        return {}
    # From SITE_URL, not the request's Host: the link outlives this page.
    url = settings.SITE_URL + reverse("circles:calendar_feed", args=[token])
    webcal = "webcal://" + url.split("://", 1)[1]
    return {
        "feed_url": url,
        "webcal_url": webcal,
        "google_url": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
    }


@login_required
@never_cache  # the page shows his secret link: no copy of it stays in a cache
@require_http_methods(["GET", "POST"])
def calendar_settings(request: HttpRequest) -> HttpResponse:
    has_feed = selectors.has_calendar_feed(request.user)
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.calendar_feed_revoke(user=request.user)
            messages.success(request, FEED_OFF)
        elif not has_feed:  # a link he has is replaced only through its own page
            try:
                services.calendar_feed_create(user=request.user)
            except services.CircleError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, FEED_MADE)
        return redirect("circles:calendar")
    token = services.calendar_feed_token(user=request.user) if has_feed else None
    context = {"has_feed": has_feed, **_feed_links(token)}
    return render(request, "circles/calendar.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def calendar_replace(request: HttpRequest) -> HttpResponse:
    """Asks first: a new link kills the old one in every calendar that has it."""
    if not selectors.has_calendar_feed(request.user):
        return redirect("circles:calendar")
    if request.method == "POST":
        try:
            services.calendar_feed_create(user=request.user)
        except services.CircleError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, FEED_REPLACED)
        return redirect("circles:calendar")
    return render(request, "circles/calendar_replace.html")


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    user = services.calendar_feed_user(token)
    if user is None:
        raise Http404
    meetings = selectors.calendar_meetings(user)
    response = HttpResponse(calendar.feed_ics(user, meetings), ICS)
    response["Cache-Control"] = "private, max-age=900"
    return response
