"""Cached pages and fragments that are forgotten the moment what they show changes.

A cached value is stored with the *generation* of every scope it depends on:
``circle:<id>`` (a circle, its memberships, meetings, RSVPs, agreements,
facilitators' names), ``user:<id>`` (a man's own memberships: which circles
are his), ``dues:<id>`` (what his dues line is made from), ``directory``
(anything a listing shows) and ``site`` (the dues range). A write bumps the
generations it touches, so every value made on the old ones is never served
again and ages out of Redis on its own timeout. Nothing has to know which keys
exist. One round trip reads the generations and the value together.

The bumps are receivers on the models' saves and deletes (below), so no write
path can forget one; a ``QuerySet.update()`` sends no signal, so the services
that use one call :func:`bump` themselves. This is cache bookkeeping, not
business flow: no receiver here does anything else.

Two rules keep a cached page from showing one man's data to another: a key for
anything personal carries the man's id (:func:`cached`'s ``user``), and when
the cache cannot be read (Redis down, the breaker open) :func:`generations`
answers ``None`` and :func:`cached` computes the value fresh instead of
trusting an unknown generation. A bump lost while Redis is away can leave a
value stale until its timeout, so the timeouts are short.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.crypto import salted_hmac

T = TypeVar("T")

# How long a cached page or fragment may live at most: short, because a bump
# lost while Redis was away would otherwise leave it stale.
TIMEOUT = 60
# A generation lives long enough to outlast every value built on it.
GENERATION_TIMEOUT = 60 * 60 * 24
DIRECTORY = "directory"
# Site-wide things a page may show (the dues range).
SITE = "site"


def circle_scope(circle_id: int) -> str:
    return f"circle:{circle_id}"


def user_scope(user_id: int) -> str:
    """A man's own memberships: which circles are his, and where he stands in each."""
    return f"user:{user_id}"


def dues_scope(user_id: int) -> str:
    """What his dues line is made from: his subscriptions, waivers and offline payments."""
    return f"dues:{user_id}"


def _generation_key(scope: str) -> str:
    return f"gen:{scope}"


def generations(scopes: Iterable[str]) -> dict[str, str] | None:
    """The current generation of each scope, starting any that has none; ``None`` if unreadable."""
    scopes = list(scopes)
    keys = {_generation_key(scope): scope for scope in scopes}
    found = cache.get_many(list(keys))
    missing = {k: uuid.uuid4().hex for k in keys if k not in found}
    if missing:
        for k, value in missing.items():
            # add(): two requests starting the same scope agree on one value.
            cache.add(k, value, GENERATION_TIMEOUT)
        found.update(cache.get_many(list(missing)))
    if any(k not in found for k in keys):
        return None  # the cache is not answering: nothing cached can be trusted
    return {keys[k]: found[k] for k in keys}


def _new_generations(scopes: tuple[str, ...]) -> None:
    cache.set_many({_generation_key(s): uuid.uuid4().hex for s in scopes}, GENERATION_TIMEOUT)


def bump(*scopes: str) -> None:
    """Forget everything cached on these scopes: now, and again when the write commits.

    Now, so that this request's own next read is fresh; again at commit, so
    that a page another request cached from the rows as they were before the
    commit, under the first new generation, is forgotten too.
    """
    _new_generations(scopes)
    transaction.on_commit(lambda: _new_generations(scopes))


class _Slot:
    """Where a value lives in the cache, and the generations it must have been made on.

    The value is stored with the generations it was made on, under a key that
    names the scopes but not their generations, so one round trip to Redis
    reads both the current generations and the value; a value made on other
    generations than the current ones is not served.
    """

    def __init__(self, name: str, scopes: Iterable[str], user: int | None, vary: str) -> None:
        self.scopes = sorted(set(scopes))
        self.key = "page:" + "|".join([name, *self.scopes, f"u={user or 0}", vary])
        self.stamp: str | None = None

    def read(self) -> object | None:
        """The value if it was made on the current generations; sets ``stamp`` if they are known."""
        generation_keys = [_generation_key(scope) for scope in self.scopes]
        found = cache.get_many([*generation_keys, self.key])
        if all(k in found for k in generation_keys):
            self.stamp = "|".join(found[k] for k in generation_keys)
        else:
            current = generations(self.scopes)  # starts the missing ones
            self.stamp = None if current is None else "|".join(current[s] for s in self.scopes)
            return None
        stored = found.get(self.key)
        if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == self.stamp:
            return stored[1]
        return None

    def write(self, value: object, seconds: int) -> None:
        if self.stamp is not None and seconds > 0:
            cache.set(self.key, (self.stamp, value), seconds)


def cached(
    name: str,
    make: Callable[[], T],
    *,
    scopes: Iterable[str],
    user: int | None = None,
    vary: str = "",
    timeout: int | Callable[[T], int] = TIMEOUT,
) -> T:
    """``make()``'s value, from the cache when its scopes have not changed since it was made.

    ``user`` is the id of the man the value was made for (``None``: the same
    for everyone who may see it); ``vary`` holds anything else it depends on
    (a query string, a time zone). ``timeout`` may be a function of the value:
    a page listing what is coming lives no longer than until the first of it
    is past. When the cache cannot be read, ``make()`` is called every time.
    """
    slot = _Slot(name, scopes, user, vary)
    value = slot.read()
    if value is None:
        value = make()
        slot.write(value, timeout(value) if callable(timeout) else timeout)
    return value


# --- Whole pages, for visitors and for each signed-in man ----------------------------


def csrf_placeholder() -> str:
    """Stands in a cached page for the CSRF token each request puts back in.

    Derived from SECRET_KEY: the same in every worker, and no text a man types
    (a cancel reason, a circle's name) can contain it by design.
    """
    return salted_hmac("circles.fragments.csrf", "placeholder").hexdigest()[:40]


def with_token(request: HttpRequest, html: str) -> str:
    """Cached HTML with this request's own CSRF token where the placeholder stands."""
    return html.replace(csrf_placeholder(), get_token(request))


# Marks a request whose page is being rendered for the page cache.
_RENDERING_FOR_CACHE = "_circles_rendering_for_cache"


def cache_csrf(request: HttpRequest) -> dict[str, object]:
    """Context processor: a page rendered for the page cache carries the placeholder.

    Listed after Django's own csrf processor in TEMPLATES, so it wins there and
    only there; every other page gets the request's token as usual.
    """
    if getattr(request, _RENDERING_FOR_CACHE, False):
        return {"csrf_token": csrf_placeholder()}
    return {}


def page_reader(request: HttpRequest) -> int | None:
    """Whose cached page this request may have: 0 for any plain visitor, a man's id, or None.

    A plain visitor has no session cookie (so no sign-in and no messages kept
    in one) and no messages cookie. A signed-in man gets pages made for him
    alone, unless a message waits for him (it shows once, on the page he
    opens next). A session that signed nobody in gets its page made fresh.
    """
    if request.method not in ("GET", "HEAD") or "messages" in request.COOKIES:
        return None
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return 0
    user = request.user
    if not user.is_authenticated or len(messages.get_messages(request)):
        return None
    return user.pk


def _reader_vary(request: HttpRequest, reader: int) -> str:
    # Everything his row says (his name in the menu, his time zone, staff or
    # not): any change to it is another page.
    row = [getattr(request.user, f.attname) for f in _user_fields()] if reader else []
    return "|".join(
        (
            request.get_full_path(),
            request.headers.get("HX-Request", ""),
            request.headers.get("HX-History-Restore-Request", ""),
            repr(row),
        )
    )


@functools.cache
def _user_fields() -> list[Any]:
    from accounts.models import User

    return list(User._meta.concrete_fields)


def cached_page(
    scopes: Callable[..., list[str] | None], *, params: frozenset[str] = frozenset()
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Serve a view's page from the cache, made once per generation for each reader.

    ``scopes(request, *args, **kwargs)`` names what the page is made from
    (``None``: not this one, make it); a signed-in man's pages are made on his
    own scope too and keyed on his id and his row. The key also holds the full
    path and the htmx headers; a query string with a parameter not in
    ``params`` (or one given twice) gets its page made and not kept, so made-up
    query strings cannot fill the cache. Only a 200 HTML page made without a real CSRF
    token being asked for is kept (a view that called ``get_token`` would have
    put the reader's own token in it). A view may set ``response.cache_seconds``
    to keep its page for less than ``TIMEOUT`` (a meeting that will be over).
    A page is only ever served to the reader it was made for: a man who may
    no longer see it has had his own scope bumped (his memberships are it).
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            reader = page_reader(request)
            plain_query = all(
                name in params and len(values) == 1 for name, values in request.GET.lists()
            )
            names = None if reader is None or not plain_query else scopes(request, *args, **kwargs)
            if names is None:
                return view(request, *args, **kwargs)
            if reader:
                names = [*names, user_scope(reader)]
            vary = hashlib.sha256(_reader_vary(request, reader).encode()).hexdigest()
            slot = _Slot("page", names, reader, vary)
            stored = slot.read()
            if stored is None:
                response, stored = _render_for_cache(view, request, args, kwargs)
                if stored is None:
                    return response
                slot.write(stored, min(TIMEOUT, getattr(response, "cache_seconds", TIMEOUT)))
            status, headers, html = stored
            response = HttpResponse(with_token(request, html), status=status)
            for name, value in headers:
                response[name] = value
            return response

        return wrapper

    return decorator


def circle_id_for(slug: str) -> int | None:
    """The id of the circle at this address (remembered a short while), or ``None``."""
    from circles.models import Circle

    k = f"circle-slug:{hashlib.sha256(slug.encode()).hexdigest()}"
    found = cache.get(k)
    if found is None:
        found = Circle.objects.filter(slug=slug).values_list("pk", flat=True).first() or 0
        cache.set(k, found, TIMEOUT)
    return found or None


def meeting_circle_id(meeting_id: int) -> int | None:
    """The circle of this meeting (which never changes), or ``None`` if there is no such one."""
    from circles.models import Meeting

    k = f"meeting-circle:{meeting_id}"
    found = cache.get(k)
    if found is None:
        found = Meeting.objects.filter(pk=meeting_id).values_list("circle_id", flat=True).first()
        found = found or 0
        cache.set(k, found, GENERATION_TIMEOUT if found else TIMEOUT)
    return found or None


def _render_for_cache(
    view: Callable[..., HttpResponse], request: HttpRequest, args: tuple, kwargs: dict
) -> tuple[HttpResponse, tuple[int, list[tuple[str, str]], str] | None]:
    setattr(request, _RENDERING_FOR_CACHE, True)
    try:
        response = view(request, *args, **kwargs)
    finally:
        setattr(request, _RENDERING_FOR_CACHE, False)
    # A cookie made or remade for this request, or a token asked for: either way a
    # real token may be in the page (and a new cookie is this visitor's alone).
    token_asked = request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
    if (
        response.status_code != 200
        or response.streaming
        or response.cookies
        or token_asked
        or not response.get("Content-Type", "").startswith("text/html")
    ):
        if csrf_placeholder().encode() in getattr(response, "content", b""):
            response.content = with_token(request, response.content.decode()).encode()
        return response, None
    headers = [(n, v) for n, v in response.items() if n.lower() != "content-length"]
    return response, (response.status_code, headers, response.content.decode())


# --- Bumps on every save and delete of what circle pages and listings show -----------


def _bump_circle(sender: type, instance: object, **kwargs: object) -> None:
    circle_id = getattr(instance, "circle_id", None) or getattr(instance, "pk", None)
    if circle_id:
        bump(circle_scope(circle_id), DIRECTORY)


def _bump_circle_page(sender: type, instance: object, **kwargs: object) -> None:
    # Meetings and agreements show on the circle's own pages, never in a listing.
    bump(circle_scope(instance.circle_id))


def _bump_membership(sender: type, instance: object, **kwargs: object) -> None:
    # His set of circles (and his standing in one) is his dashboard's business too.
    bump(circle_scope(instance.circle_id), DIRECTORY, user_scope(instance.user_id))


def _bump_meeting_child(sender: type, instance: object, **kwargs: object) -> None:
    meeting = getattr(instance, "meeting", None)
    if meeting is not None:
        bump(circle_scope(meeting.circle_id))


def _bump_agreement_child(sender: type, instance: object, **kwargs: object) -> None:
    agreement = getattr(instance, "agreement", None)
    if agreement is not None:
        bump(circle_scope(agreement.circle_id))


# The fields of a man that circle pages and listings show.
USER_FIELDS_SHOWN = {"full_name", "display_name", "email", "phone", "bio", "time_zone"}


def _bump_user(
    sender: type, instance: object, update_fields: object = None, **kwargs: object
) -> None:
    # A man's name shows on his circles' pages (and a facilitator's in the directory);
    # a save of other fields (his last sign-in) changes nothing shown.
    if update_fields is not None and not USER_FIELDS_SHOWN & set(update_fields):
        return
    from circles.models import Membership

    circle_ids = Membership.objects.filter(user_id=instance.pk).values_list("circle_id", flat=True)
    scopes = [circle_scope(c) for c in circle_ids]
    if scopes:
        bump(*scopes, DIRECTORY)


def _bump_site(sender: type, instance: object, **kwargs: object) -> None:
    bump(SITE)


def _bump_dues(sender: type, instance: object, **kwargs: object) -> None:
    # Waivers and offline payments name him; a Stripe customer is his by
    # subscriber; a subscription (saved only by dj-stripe's webhook processing
    # and syncs, never on a page) is his through its customer.
    from djstripe.models import Customer

    user_id = getattr(instance, "user_id", None) or getattr(instance, "subscriber_id", None)
    customer_id = getattr(instance, "customer_id", None)
    if user_id is None and customer_id is not None:
        # dj-stripe's foreign keys hold the Stripe id ("cus_..."), not the row's pk.
        user_id = (
            Customer.objects.filter(id=customer_id).values_list("subscriber_id", flat=True).first()
        )
    if user_id is not None:
        bump(dues_scope(user_id))


def connect() -> None:
    """Called once from the app's ready()."""
    from djstripe.models import Customer, Subscription

    from accounts.models import User
    from billing.models import DuesTier, OfflinePayment, Scholarship
    from circles.models import (
        RSVP,
        Agreement,
        AgreementAcceptance,
        Attendance,
        Circle,
        Meeting,
        Membership,
    )

    receivers = {
        Circle: _bump_circle,
        Membership: _bump_membership,
        Meeting: _bump_circle_page,
        Agreement: _bump_circle_page,
        RSVP: _bump_meeting_child,
        Attendance: _bump_meeting_child,
        AgreementAcceptance: _bump_agreement_child,
        User: _bump_user,
        # Pages that show the dues range carry the SITE scope.
        DuesTier: _bump_site,
        # His dues line (the dashboard's) is cached on his dues scope.
        Scholarship: _bump_dues,
        OfflinePayment: _bump_dues,
        Customer: _bump_dues,
        Subscription: _bump_dues,
    }
    for model, receiver in receivers.items():
        for signal in (post_save, post_delete):
            signal.connect(
                receiver, sender=model, dispatch_uid=f"circles.caching.{model.__name__}.{signal}"
            )
