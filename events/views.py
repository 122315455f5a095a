"""Event pages: the events a man may see (searchable, paged), one event, registering.

Nothing here is cached: who may see an event, and what of it, differs from man to man.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from circles import paging
from events import calendar, selectors, services
from events.forms import OfferForm, RegisterForm, SearchForm
from events.models import Event, Registration


def _event_or_404(request: HttpRequest, slug: str) -> Event:
    event = selectors.event_page(request.user, slug)
    if event is None:
        raise Http404
    return event


@require_GET
@vary_on_headers("HX-Request", "Cookie")
def directory(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    q = form.cleaned_data["q"] if form.is_valid() else ""
    number, note = paging.page_number(request.GET.get("page"))
    more = bool(request.htmx) and not request.htmx.history_restore_request
    page = paging.page_of(selectors.listing(request.user, q), number, past_the_end=not more)
    query = urlencode({"q": q}) + "&" if q else ""
    html = render_to_string(
        "events/fragment_directory.html", {"page": page, "query": query, "q": q}, request
    )
    if more:
        return HttpResponse(html)
    context = {"form": form, "listing": html, "note": note or page.note}
    return render(request, "events/directory.html", context)


def _detail(
    request: HttpRequest, event: Event, form: RegisterForm | None = None, status: int = 200
) -> HttpResponse:
    registration = selectors.my_registration(request.user, event)
    organiser = selectors.is_organiser(request.user, event)
    can_register = (
        request.user.is_authenticated
        and registration is None
        and event.status in Event.REGISTERING
        and not _closed(event)
    )
    context = {
        "event": event,
        "registration": registration,
        "organiser": organiser,
        "sees_private": selectors.sees_private(registration, organiser),
        "position": selectors.waitlist_position(registration) if registration else None,
        "closed": _closed(event),
        "seats_free": max(0, event.capacity - event.seats_taken),
        "form": form or (RegisterForm(event=event) if can_register else None),
        "can_register": can_register,
        "hold_minutes": services.HOLD_MINUTES,
    }
    return render(request, "events/detail.html", context, status=status)


def _closed(event: Event) -> bool:
    return timezone.now() >= event.closes_at


@require_GET
def detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _detail(request, _event_or_404(request, slug))


@login_required
@require_POST
def register(request: HttpRequest, slug: str) -> HttpResponse:
    event = _event_or_404(request, slug)
    form = RegisterForm(request.POST, event=event)
    if not form.is_valid():
        return _detail(request, event, form, status=400)
    try:
        registration = services.register(
            event=event,
            user=request.user,
            answers=form.answers(),
            tier=form.cleaned_data.get("tier"),
        )
    except services.EventError as error:
        if form.add_service_error(error):
            return _detail(request, event, form, status=400)
        # Not about what he typed (closed, registered already...): said above the page.
        messages.error(request, error.message)
        return redirect(event)
    messages.success(request, services.outcome_message(registration))
    return redirect(event)


@login_required
@require_POST
def cancel(request: HttpRequest, slug: str) -> HttpResponse:
    event = _event_or_404(request, slug)
    registration = selectors.my_registration(request.user, event)
    if registration is None:
        messages.info(request, services.NOT_CANCELLABLE)
        return redirect(event)
    try:
        services.cancel(registration=registration)
    except services.EventError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, services.CANCELLED)
    return redirect(event)


@login_required
@require_POST
def answer_offer(request: HttpRequest, slug: str) -> HttpResponse:
    event = _event_or_404(request, slug)
    registration = selectors.my_registration(request.user, event)
    form = OfferForm(request.POST)
    if registration is None or not form.is_valid():
        messages.error(request, services.NO_OFFER)
        return redirect(event)
    accept = form.cleaned_data["answer"] == "accept"
    try:
        if accept:
            registration = services.accept_offer(registration=registration)
        else:
            services.decline_offer(registration=registration)
    except services.EventError as error:
        messages.error(request, error.message)
    else:
        if not accept:
            messages.success(request, "Offer declined.")
        elif registration.status == Registration.Status.HELD:
            messages.success(request, services.HELD.format(minutes=services.HOLD_MINUTES))
        else:
            messages.success(request, services.REGISTERED)
    return redirect(event)


ICS = "text/calendar; charset=utf-8"


@require_GET
def event_ics(request: HttpRequest, slug: str) -> HttpResponse:
    """The event for his calendar, to whoever may see it; its address and joining details
    only to the men confirmed on it and its organisers."""
    event = _event_or_404(request, slug)
    organiser = selectors.is_organiser(request.user, event)
    private = selectors.sees_private(selectors.my_registration(request.user, event), organiser)
    response = HttpResponse(calendar.event_ics(event, include_private=private), ICS)
    response["Content-Disposition"] = f'attachment; filename="{event.slug}.ics"'
    # What it holds depends on who asks: no shared cache keeps it.
    response["Cache-Control"] = "private, no-cache"
    return response
