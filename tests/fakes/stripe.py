"""A local fake of the Stripe API (v1) for the real `stripe` client and dj-stripe.

A real HTTP/1.1 server on 127.0.0.1 speaking Stripe's wire protocol: Bearer
secret key, form-encoded bodies with nested keys (`line_items[0][price]`,
`metadata[user_id]`, `expand[0]`), JSON answers in the shape of API version
`API_VERSION` (the one dj-stripe 2.11 pins), Stripe's error JSON, lists with
cursor pagination, `expand`, and idempotent replays of POSTs. State is kept, so
whatever the app creates can be fetched back, and what happens at Stripe
outside our requests (a member paying in Checkout, a renewal failing) is
simulated by helpers that return the webhook events Stripe would send:

    def test_something(stripe_fake, client):
        price = stripe_fake.add_price(1500, nickname="Monthly dues")
        ...                                  # the app creates a Checkout Session
        for event in stripe_fake.complete_checkout(session_id):
            payload, signature = stripe_fake.sign(event)
            client.post(webhook_url, payload, content_type="application/json",
                        HTTP_STRIPE_SIGNATURE=signature)

Checkout Sessions come in subscription mode (dues) and payment mode (a
ticket: one-time prices, `payment_intent_data`, a payment intent and charge
when paid); `POST /v1/checkout/sessions/<id>/expire` and `POST /v1/refunds`
(by payment intent or charge, idempotent like every POST) are modelled too.

A browser sent to a Checkout Session's `url` gets a hosted page stand-in with
the amount, "Pay" and "Cancel". Pay completes the session (as
`complete_checkout`), POSTs the events, signed, to `fake.webhook_url` when one
is set (a live server's `/stripe/webhook/`; `fake.deliveries` records the
answers) and redirects to the session's `success_url`; Cancel redirects to its
`cancel_url` and leaves the session open.

Every object the fake models emits the events Stripe would (`customer.created`,
`price.created`, ...) into `fake.events`; the helpers return just the events of
their own step. Endpoints the fake does not model answer 404 as Stripe does for
an unknown URL and are listed in `fake.unrecognized`. A parameter Stripe does
not accept is refused ("Received unknown parameter"), checked against the
installed `stripe` library's own parameter types; a list filter Stripe accepts
but the fake does not implement is refused too, rather than silently ignored.

Outside pytest (a child process, a benchmark)::

    fake = FakeStripe()
    fake.start()
    env = {**os.environ, **fake.env()}
    ...
    fake.stop()
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import stripe
import stripe.params as stripe_params
import stripe.params.billing_portal as portal_params
import stripe.params.checkout as checkout_params

from tests.fakes.http import KeepAliveHandler, ServedFake

# dj-stripe 2.11's DEFAULT_STRIPE_API_VERSION; test_stripe_fake checks they agree.
API_VERSION = "2026-05-27.dahlia"

Json = dict[str, Any]

_ALPHANUM = string.ascii_letters + string.digits
# Length of the random part of an id, per prefix, as Stripe's ids run.
_ID_LENGTHS = {
    "acct": 16,
    "bpc": 24,
    "bps": 24,
    "ch": 24,
    "cs_test": 58,
    "cus": 14,
    "evt": 24,
    "il": 24,
    "in": 24,
    "inpay": 24,
    "li": 24,
    "pi": 24,
    "pm": 24,
    "price": 24,
    "prod": 14,
    "re": 24,
    "req": 14,
    "si": 14,
    "sub": 24,
}
# Request options of the stripe library's parameter types: headers, not parameters.
_REQUEST_OPTIONS = frozenset(
    {
        "api_key",
        "content_type",
        "headers",
        "idempotency_key",
        "max_network_retries",
        "stripe_account",
        "stripe_context",
        "stripe_version",
    }
)
_PAGING = frozenset({"limit", "starting_after", "ending_before", "expand"})
_INTERVALS = ("day", "week", "month", "year")
_OBJECT_NAMES = {  # for "No such <name>: '<id>'"
    "billing_portal.session": "billing_portal session",
    "checkout.session": "checkout.session",
    "invoice_payment": "invoice_payment",
    "line_item": "line item",
    "payment_intent": "payment_intent",
    "payment_method": "PaymentMethod",
    "subscription_item": "subscription_item",
}


def _new_id(prefix: str) -> str:
    random_part = "".join(secrets.choice(_ALPHANUM) for _ in range(_ID_LENGTHS[prefix]))
    return f"{prefix}_{random_part}"


def _key(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHANUM) for _ in range(32))


def _allowed(params_type: type) -> frozenset[str]:
    """The parameters a `stripe.params` TypedDict lets through to the API."""
    return frozenset(params_type.__annotations__) - _REQUEST_OPTIONS


def _add_interval(timestamp: int, interval: str, count: int = 1) -> int:
    """`timestamp` moved on by `count` intervals, months as calendars count them."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    if interval == "day":
        return timestamp + 86_400 * count
    if interval == "week":
        return timestamp + 7 * 86_400 * count
    months = count * (12 if interval == "year" else 1)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def _nulls(names: str) -> Json:
    """Fields Stripe sends as null for what the fake does not model."""
    return dict.fromkeys(names.split())


def _money(amount: int, currency: str) -> str:
    if currency == "usd":
        return f"${amount / 100:,.2f}"
    return f"{amount / 100:,.2f} {currency.upper()}"


def sign_event(event: Json, secret: str, *, timestamp: int | None = None) -> tuple[bytes, str]:
    """The webhook body for `event` and its `Stripe-Signature` header, signed as Stripe does.

    The scheme of `stripe.WebhookSignature`: `t=<unix time>,v1=<hex HMAC-SHA256 of
    "<t>.<body>" keyed with the endpoint secret>`. A past `timestamp` makes a stale
    (replayed) delivery.
    """
    payload = json.dumps(event, indent=2).encode()
    signed_at = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(
        secret.encode(), f"{signed_at}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    return payload, f"t={signed_at},v1={signature}"


class StripeAPIError(Exception):
    """An answer in Stripe's error shape: `{"error": {"type", "message", ...}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.should_retry = should_retry

    def body(self) -> Json:
        error: Json = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}


def _missing(object_name: str, id_: str, param: str = "id") -> StripeAPIError:
    name = _OBJECT_NAMES.get(object_name, object_name)
    return StripeAPIError(404, f"No such {name}: '{id_}'", code="resource_missing", param=param)


def _required(param: str) -> StripeAPIError:
    return StripeAPIError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def _invalid(param: str, message: str) -> StripeAPIError:
    return StripeAPIError(400, message, code="parameter_invalid", param=param)


def _int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid(param, f"Invalid integer: {value}") from None


def _bool(value: Any, param: str) -> bool:
    if value in (True, "true"):
        return True
    if value in (False, "false"):
        return False
    raise _invalid(param, f"Invalid boolean: {value}")


def _str(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise _invalid(param, f"Invalid string: {value!r}")
    return value


def _dict(value: Any, param: str) -> Json:
    if not isinstance(value, dict):
        raise _invalid(param, f"Invalid object: {value!r}")
    return value


def _merge_metadata(current: Json, update: Any) -> Json:
    """Stripe's metadata update: keys set, `""` unsets a key, a bare `""` clears all."""
    if update is None:
        return current
    if update == "":
        return {}
    merged = dict(current)
    for key, value in _dict(update, "metadata").items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = _str(value, f"metadata[{key}]")
    return merged


# --- Form decoding ------------------------------------------------------------------

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def parse_form(pairs: list[tuple[str, str]]) -> Json:
    """Stripe's form encoding as nested data: `a[b][0][c]=v` → `{"a": {"b": [{"c": "v"}]}}`.

    `a[]=x` appends; an object whose keys are all indexes becomes a list.
    """
    root: Json = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise _invalid(key, f"Invalid parameter name: {key}")
        parts = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        node = root
        for depth, part in enumerate(parts):
            name = str(len(node)) if part == "" else part
            if depth == len(parts) - 1:
                node[name] = value
                break
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                raise _invalid(key, f"Invalid hash: {key} mixes a value and nested keys")
            node = child
    return _listify(root)


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {key: _listify(item) for key, item in value.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


# --- The fake -----------------------------------------------------------------------


class FakeStripe(ServedFake):
    """The fake. `events` holds every event it produced, `requests` every API call."""

    def __init__(self, *, api_version: str = API_VERSION) -> None:
        self.api_version = api_version
        self.secret_key = _key("sk_test_")
        self.publishable_key = _key("pk_test_")
        self.webhook_secret = _key("whsec_")
        self._lock = threading.RLock()
        self._routes = self._route_table()
        # Every object by id; `_order` ranks them for lists (newest first).
        self._objects: dict[str, Json] = {}
        self._order: dict[str, int] = {}
        self._children: dict[str, list[str]] = {}  # sub → items, invoice → lines, ...
        self._subscription_data: dict[str, Json] = {}  # a Checkout Session's, by its id
        self._payment_intent_data: dict[str, Json] = {}  # the same, in payment mode
        self._portal_configuration = _new_id("bpc")
        self._idempotent: dict[str, tuple[str, int, bytes]] = {}
        self._fail_next: list[StripeAPIError] = []
        self._request: Json | None = None  # {"id", "idempotency_key"} of the API call being served
        # Every event, oldest first.
        self.events: list[Json] = []
        # Every API request: {"method", "path", "params", "stripe_version",
        # "idempotency_key", "stripe_account", "status", "request_id"}.
        self.requests: list[Json] = []
        # Where the hosted Checkout page sends the events of a payment, signed with
        # `webhook_secret` (a live server's /stripe/webhook/); None keeps them here.
        self.webhook_url: str | None = None
        # Every webhook sent: {"event", "type", "status"} (status None: unreachable).
        self.deliveries: list[Json] = []
        self.account = self._insert(self._new_account())

    # --- Life cycle -----------------------------------------------------------

    def handler_class(self) -> type[KeepAliveHandler]:
        return _handler_for(self)

    def env(self) -> dict[str, str]:
        """Environment for a child process (manage.py, a benchmark) to use this fake."""
        return {
            "STRIPE_SECRET_KEY": self.secret_key,
            "STRIPE_PUBLISHABLE_KEY": self.publishable_key,
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
            "STRIPE_API_BASE": self.base_url,
        }

    # --- Test controls --------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        message: str | None = None,
        should_retry: bool | None = None,
    ) -> None:
        """Refuse the next `n` authenticated API requests with this status.

        The stripe library retries 409s and 5xx (`stripe.max_network_retries`, 2 by
        default, backing off 0.5 s and more) unless told `Stripe-Should-Retry: false`:
        pass `should_retry=False` for an outage the first attempt sees.
        """
        kinds = {
            400: "invalid_request_error",
            402: "card_error",
            409: "idempotency_error",
            429: "rate_limit_error",
        }
        default = "An unknown error occurred" if status >= 500 else f"Injected {status} error"
        failure = StripeAPIError(
            status,
            message or default,
            type=kinds.get(status, "api_error"),
            code="rate_limit" if status == 429 else None,
            should_retry=should_retry,
        )
        with self._lock:
            self._fail_next.extend(failure for _ in range(n))

    def get(self, id_: str) -> Json:
        """An object as the API would answer for it now (KeyError if unknown)."""
        with self._lock:
            return self._render(self._objects[id_])

    def events_of(self, type_: str) -> list[Json]:
        with self._lock:
            return [event for event in self.events if event["type"] == type_]

    def requests_to(self, method: str, path: str) -> list[Json]:
        with self._lock:
            return [r for r in self.requests if r["method"] == method and r["path"] == path]

    @property
    def unrecognized(self) -> list[tuple[str, str]]:
        """(method, path) of requests to endpoints the fake does not model."""
        with self._lock:
            return [(r["method"], r["path"]) for r in self.requests if r.get("unrecognized")]

    def sign(self, event: Json, *, timestamp: int | None = None) -> tuple[bytes, str]:
        """`sign_event` with this fake's webhook secret (the STRIPE_WEBHOOK_SECRET it sets)."""
        return sign_event(event, self.webhook_secret, timestamp=timestamp)

    def deliver(self, events: list[Json]) -> list[int | None]:
        """POST each event, signed, to `webhook_url` as Stripe would; return the statuses.

        Stripe waits for nothing but the answer: a failed delivery is recorded in
        `deliveries` (status None when nobody answered), not raised.
        """
        if self.webhook_url is None:
            return []
        statuses: list[int | None] = []
        for event in events:
            payload, signature = self.sign(event)
            status: int | None
            try:
                status = requests.post(
                    self.webhook_url,
                    data=payload,
                    headers={"Content-Type": "application/json", "Stripe-Signature": signature},
                    timeout=30,
                ).status_code
            except requests.RequestException:
                status = None
            with self._lock:
                self.deliveries.append(
                    {"event": event["id"], "type": event["type"], "status": status}
                )
            statuses.append(status)
        return statuses

    # --- Simulating what happens at Stripe ------------------------------------------

    def add_customer(self, email: str, *, name: str | None = None, **metadata: str) -> Json:
        """A customer created outside the app (the Dashboard, another system)."""
        with self._lock:
            return self._render(self._create_customer({"email": email, "name": name}, metadata))

    def add_price(
        self,
        amount: int,
        currency: str = "usd",
        interval: str | None = "month",
        nickname: str | None = None,
        *,
        product_name: str | None = None,
        interval_count: int = 1,
        lookup_key: str | None = None,
    ) -> Json:
        """A price (recurring unless `interval=None`) and its product, as made in the Dashboard."""
        with self._lock:
            product = self._create_product({"name": product_name or nickname or "Membership"})
            params: Json = {"currency": currency, "unit_amount": amount, "product": product["id"]}
            if interval is not None:
                params["recurring"] = {"interval": interval, "interval_count": interval_count}
            if nickname is not None:
                params["nickname"] = nickname
            if lookup_key is not None:
                params["lookup_key"] = lookup_key
            price = self._create_price(params)
            product["default_price"] = price["id"]
            return self._render(price)

    def complete_checkout(self, session_id: str, *, fail_payment: bool = False) -> list[Json]:
        """The member finishes Checkout: a subscription starts and its first invoice is paid.

        Returns the events `checkout.session.completed`, `customer.subscription.created`
        and `invoice.paid`. With `fail_payment` the first payment fails after the
        session completes (as with a delayed payment method): the session is
        "unpaid", the subscription "incomplete", the invoice "open", and the last
        event is `invoice.payment_failed`.

        A session in payment mode is paid at once instead: its payment intent
        succeeds with a charge, and the events are `payment_intent.succeeded` and
        `checkout.session.completed` (`fail_payment` is for subscriptions only).
        """
        with self._lock:
            session = self._objects.get(session_id)
            if session is None or session["object"] != "checkout.session":
                raise KeyError(f"no checkout session {session_id}")
            assert session["status"] == "open", f"session is {session['status']}"
            if session["mode"] == "payment":
                assert not fail_payment, "fail_payment is modelled for subscriptions only"
                return self._complete_payment(session)
            now = self._now()
            customer = self._checkout_customer(session)
            method = self._new_payment_method(customer["id"])
            subscription = self._start_subscription(session, customer, method["id"], now)
            invoice = self._new_invoice(
                subscription,
                billing_reason="subscription_create",
                period=(now, now),
                paid=not fail_payment,
            )
            failed = invoice["status"] == "open"  # a free (trial) invoice cannot fail
            if failed:
                subscription["status"] = "incomplete"
            session.update(
                {
                    "customer": customer["id"],
                    "customer_details": self._customer_details(customer),
                    "payment_status": "unpaid" if failed else "paid",
                    "status": "complete",
                    "subscription": subscription["id"],
                    "url": None,
                }
            )
            if customer["currency"] is None:
                customer["currency"] = session["currency"]
            return [
                self._event("checkout.session.completed", session),
                self._event("customer.subscription.created", subscription),
                self._event("invoice.payment_failed" if failed else "invoice.paid", invoice),
            ]

    def _complete_payment(self, session: Json) -> list[Json]:
        customer = self._checkout_customer(session)
        method = self._new_payment_method(customer["id"])
        settings = self._payment_intent_data[session["id"]]
        intent = self._insert(
            {
                **self._payment_intent_fields(
                    amount=session["amount_total"],
                    currency=session["currency"],
                    customer_id=customer["id"],
                    method_id=method["id"],
                    description=settings["description"],
                ),
                "metadata": copy.deepcopy(settings["metadata"]),
                "setup_future_usage": None,
            }
        )
        charge = self._insert(
            {
                "id": _new_id("ch"),
                "object": "charge",
                "amount": intent["amount"],
                "amount_captured": intent["amount"],
                "amount_refunded": 0,
                "captured": True,
                "created": self._now(),
                "currency": intent["currency"],
                "customer": customer["id"],
                "livemode": False,
                "metadata": copy.deepcopy(intent["metadata"]),
                "paid": True,
                "payment_intent": intent["id"],
                "payment_method": method["id"],
                "refunded": False,
                "status": "succeeded",
            }
        )
        intent.update(
            {
                "amount_received": intent["amount"],
                "latest_charge": charge["id"],
                "status": "succeeded",
            }
        )
        session.update(
            {
                "customer": customer["id"],
                "customer_details": self._customer_details(customer),
                "payment_intent": intent["id"],
                "payment_status": "paid",
                "status": "complete",
                "url": None,
            }
        )
        if customer["currency"] is None:
            customer["currency"] = session["currency"]
        return [
            self._event("payment_intent.succeeded", intent),
            self._event("checkout.session.completed", session),
        ]

    def renew_subscription(self, subscription_id: str) -> list[Json]:
        """A period ends and the renewal is paid.

        Returns the events `invoice.paid` and `customer.subscription.updated`.
        """
        return self._renew(subscription_id, paid=True)

    def fail_invoice(self, subscription_id: str) -> list[Json]:
        """A renewal's payment fails: a new open invoice, the subscription "past_due".

        Returns the events `invoice.payment_failed` and `customer.subscription.updated`.
        """
        return self._renew(subscription_id, paid=False)

    def pay_invoice(self, invoice_id: str) -> list[Json]:
        """An open invoice is paid (a retry, a new card).

        Returns the event `invoice.paid`, then `customer.subscription.updated` if that
        made its subscription active again.
        """
        with self._lock:
            return self._pay_invoice(self._get("invoice", invoice_id))

    def cancel_subscription(self, subscription_id: str) -> list[Json]:
        """The subscription ends now (cancelled in the portal): `customer.subscription.deleted`."""
        with self._lock:
            return [
                self._cancel(self._get("subscription", subscription_id), "cancellation_requested")
            ]

    def expire_checkout(self, session_id: str) -> list[Json]:
        """The member never finishes Checkout: `checkout.session.expired`."""
        with self._lock:
            return [self._expire(self._get("checkout.session", session_id))]

    # --- Serving a request ----------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: dict[str, str], pairs: list[tuple[str, str]]
    ) -> tuple[int, dict[str, str], bytes, str]:
        """Answer one HTTP request: (status, headers, body, content type)."""
        if not path.startswith("/v1/"):
            status, page_headers, body = self._page(method, path)
            return status, page_headers, body.encode(), "text/html; charset=utf-8"
        request_id = _new_id("req")
        out_headers = {"Request-Id": request_id, "Stripe-Version": self.api_version}
        record: Json = {
            "method": method,
            "path": path,
            "params": {},
            "stripe_version": headers.get("stripe-version"),
            "idempotency_key": headers.get("idempotency-key"),
            "stripe_account": headers.get("stripe-account"),
            "request_id": request_id,
        }
        with self._lock:
            self.requests.append(record)
            try:
                record["params"] = params = parse_form(pairs)
                self._authenticate(headers.get("authorization", ""))
                if headers.get("stripe-version"):
                    out_headers["Stripe-Version"] = headers["stripe-version"]
                if self._fail_next:
                    raise self._fail_next.pop(0)
                status, body = self._serve(method, path, params, record, out_headers)
            except StripeAPIError as error:
                status, body = error.status, json.dumps(error.body(), indent=2).encode()
                if error.should_retry is not None:
                    out_headers["Stripe-Should-Retry"] = str(error.should_retry).lower()
                if error.status == 404 and error.code is None:
                    record["unrecognized"] = True
            record["status"] = status
        return status, out_headers, body, "application/json"

    def _authenticate(self, authorization: str) -> None:
        scheme, _, key = authorization.partition(" ")
        if not key:
            raise StripeAPIError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            key.encode(), self.secret_key.encode()
        ):
            redacted = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]
            raise StripeAPIError(401, f"Invalid API Key provided: {redacted}")

    def _serve(
        self, method: str, path: str, params: Json, record: Json, out_headers: dict[str, str]
    ) -> tuple[int, bytes]:
        key = record["idempotency_key"]
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        if method == "POST" and key and key in self._idempotent:
            seen, status, body = self._idempotent[key]
            if seen != fingerprint:
                raise StripeAPIError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
            out_headers["Idempotent-Replayed"] = "true"
            return status, body
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path) if route_method == method else None
            if match is not None:
                self._request = {"id": record["request_id"], "idempotency_key": key}
                try:
                    answer = handler(params, *match.groups())
                finally:
                    self._request = None
                status, body = HTTPStatus.OK, json.dumps(answer, indent=2).encode()
                if method == "POST" and key:
                    self._idempotent[key] = (fingerprint, status, body)
                return status, body
        raise StripeAPIError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Callable[..., Json]]]:
        id_ = r"([A-Za-z0-9_]+)"
        routes: list[tuple[str, str, Callable[..., Json]]] = [
            ("GET", "/v1/account", self._api_account),
            ("POST", "/v1/customers", self._api_create_customer),
            ("GET", "/v1/customers", self._api_list_customers),
            ("GET", f"/v1/customers/{id_}", self._retriever("customer")),
            ("POST", f"/v1/customers/{id_}", self._api_update_customer),
            ("DELETE", f"/v1/customers/{id_}", self._api_delete_customer),
            ("POST", "/v1/products", self._api_create_product),
            ("GET", "/v1/products", self._api_list_products),
            ("GET", f"/v1/products/{id_}", self._retriever("product")),
            ("POST", f"/v1/products/{id_}", self._api_update_product),
            ("GET", f"/v1/products/{id_}/features", self._api_product_features),
            ("POST", "/v1/prices", self._api_create_price),
            ("GET", "/v1/prices", self._api_list_prices),
            ("GET", f"/v1/prices/{id_}", self._retriever("price")),
            ("POST", f"/v1/prices/{id_}", self._api_update_price),
            ("POST", "/v1/checkout/sessions", self._api_create_checkout),
            ("GET", "/v1/checkout/sessions", self._api_list_checkouts),
            ("GET", f"/v1/checkout/sessions/{id_}", self._retriever("checkout.session")),
            ("GET", f"/v1/checkout/sessions/{id_}/line_items", self._api_checkout_items),
            ("POST", f"/v1/checkout/sessions/{id_}/expire", self._api_expire_checkout),
            ("POST", "/v1/billing_portal/sessions", self._api_create_portal),
            ("GET", "/v1/subscriptions", self._api_list_subscriptions),
            ("GET", f"/v1/subscriptions/{id_}", self._retriever("subscription")),
            ("POST", f"/v1/subscriptions/{id_}", self._api_update_subscription),
            ("DELETE", f"/v1/subscriptions/{id_}", self._api_cancel_subscription),
            ("GET", "/v1/subscription_items", self._api_list_subscription_items),
            ("GET", f"/v1/subscription_items/{id_}", self._retriever("subscription_item")),
            ("GET", "/v1/invoices", self._api_list_invoices),
            ("GET", f"/v1/invoices/{id_}", self._retriever("invoice")),
            ("GET", f"/v1/invoices/{id_}/lines", self._api_invoice_lines),
            ("POST", f"/v1/invoices/{id_}/pay", self._api_pay_invoice),
            ("GET", "/v1/invoice_payments", self._api_list_invoice_payments),
            ("GET", f"/v1/invoice_payments/{id_}", self._retriever("invoice_payment")),
            ("GET", f"/v1/payment_intents/{id_}", self._retriever("payment_intent")),
            ("GET", f"/v1/charges/{id_}", self._retriever("charge")),
            ("POST", "/v1/refunds", self._api_create_refund),
            ("GET", "/v1/refunds", self._api_list_refunds),
            ("GET", f"/v1/refunds/{id_}", self._retriever("refund")),
            ("GET", f"/v1/payment_methods/{id_}", self._retriever("payment_method")),
            ("GET", "/v1/events", self._api_list_events),
            ("GET", f"/v1/events/{id_}", self._retriever("event")),
        ]
        return [(method, re.compile(f"^{path}$"), handler) for method, path, handler in routes]

    # --- The store ------------------------------------------------------------------

    def _now(self) -> int:
        return int(time.time())

    def _insert(self, obj: Json) -> Json:
        self._objects[obj["id"]] = obj
        self._order[obj["id"]] = len(self._order)
        return obj

    def _get(self, object_name: str, id_: str, param: str = "id") -> Json:
        obj = self._objects.get(id_)
        if obj is None or obj["object"] != object_name or obj.get("deleted"):
            raise _missing(object_name, id_, param)
        return obj

    def _of(self, object_name: str, **equal: Any) -> list[Json]:
        return [
            obj
            for obj in self._objects.values()
            if obj["object"] == object_name
            and all(obj.get(key) == value for key, value in equal.items())
        ]

    def _render(self, obj: Json) -> Json:
        """The object as the API shows it: a copy, with the lists Stripe always includes."""
        shown = copy.deepcopy(obj)
        kind, id_ = obj["object"], obj["id"]
        if kind == "subscription":
            shown["items"] = self._list_object(
                f"/v1/subscription_items?subscription={id_}", self._children[id_]
            )
        elif kind == "subscription_item":
            shown["price"] = self._render(self._objects[obj["price"]])
            shown["plan"] = self._plan(shown["price"])
        elif kind == "invoice":
            shown["lines"] = self._list_object(f"/v1/invoices/{id_}/lines", self._children[id_])
        elif kind == "item":  # a Checkout line item
            shown["price"] = self._render(self._objects[obj["price"]])
        return shown

    def _list_object(self, url: str, ids: list[str]) -> Json:
        data = [self._render(self._objects[id_]) for id_ in ids]
        return {
            "object": "list",
            "data": data,
            "has_more": False,
            "total_count": len(data),
            "url": url,
        }

    def _includable(self, obj: Json, field: str) -> Any:
        """A field Stripe leaves out unless expanded, or None if `obj` has no such field."""
        kind, id_ = obj.get("object"), obj.get("id", "")
        if kind == "checkout.session" and field == "line_items":
            return self._list_object(f"/v1/checkout/sessions/{id_}/line_items", self._children[id_])
        if kind == "invoice" and field == "payments":
            return self._list_object(f"/v1/invoice_payments?invoice={id_}", self._payments_of(id_))
        if kind == "customer" and field in ("sources", "tax_ids"):
            return self._list_object(f"/v1/customers/{id_}/{field}", [])
        if kind == "customer" and field == "subscriptions":
            ids = [s["id"] for s in self._of("subscription", customer=id_)]
            return self._list_object(f"/v1/customers/{id_}/subscriptions", ids)
        if field == "breakdown" and "amount_shipping" in obj:  # total_details.breakdown
            return {"discounts": [], "taxes": []}
        return None

    def _expand(self, value: Any, parts: list[str]) -> Any:
        """Expand `parts` (one `expand[]` path) in a rendered value. Unknown paths are left be."""
        if not parts or not isinstance(value, dict):
            return value
        head, rest = parts[0], parts[1:]
        if value.get("object") == "list" and head == "data":
            value["data"] = [self._expand(item, rest) for item in value["data"]]
            return value
        if head not in value:
            included = self._includable(value, head)
            if included is None:
                return value
            value[head] = included
        field = value[head]
        if isinstance(field, list):
            value[head] = [self._expand(self._expanded(item), rest) for item in field]
        else:
            value[head] = self._expand(self._expanded(field), rest)
        return value

    def _expanded(self, value: Any) -> Any:
        if isinstance(value, str) and value in self._objects:
            return self._render(self._objects[value])
        return value

    def _answer(self, obj: Json, params: Json) -> Json:
        shown = self._render(obj)
        for path in self._expand_paths(params):
            shown = self._expand(shown, path.split("."))
        return shown

    @staticmethod
    def _expand_paths(params: Json) -> list[str]:
        paths = params.get("expand", [])
        return [paths] if isinstance(paths, str) else list(paths)

    def _check(self, params: Json, allowed: frozenset[str]) -> None:
        for name in params:
            if name not in allowed:
                raise StripeAPIError(
                    400,
                    f"Received unknown parameter: {name}",
                    code="parameter_unknown",
                    param=name,
                )

    def _paginate(
        self,
        url: str,
        objects: list[Json],
        params: Json,
        *,
        allowed: frozenset[str],
        filters: frozenset[str] = frozenset(),
        newest_first: bool = True,
    ) -> Json:
        self._check(params, allowed)
        for name in params:
            if name not in _PAGING and name not in filters:
                raise StripeAPIError(
                    400,
                    f"The Stripe fake does not implement the `{name}` filter of {url}.",
                    code="fake_unsupported",
                    param=name,
                )
        limit = _int(params.get("limit", 10), "limit")
        if not 1 <= limit <= 100:
            raise _invalid("limit", "This value must be between 1 and 100.")
        ranked = sorted(objects, key=lambda obj: self._order[obj["id"]], reverse=newest_first)
        ids = [obj["id"] for obj in ranked]
        if "starting_after" in params:
            cursor = params["starting_after"]
            if cursor not in ids:
                raise _missing(
                    objects[0]["object"] if objects else "object", cursor, "starting_after"
                )
            ranked = ranked[ids.index(cursor) + 1 :]
        elif "ending_before" in params:
            cursor = params["ending_before"]
            if cursor not in ids:
                raise _missing(
                    objects[0]["object"] if objects else "object", cursor, "ending_before"
                )
            ranked = ranked[: ids.index(cursor)][-limit:]
        page = {
            "object": "list",
            "data": [self._render(obj) for obj in ranked[:limit]],
            "has_more": len(ranked) > limit,
            "url": url,
        }
        for path in self._expand_paths(params):
            page = self._expand(page, path.split("."))
        return page

    # --- Events ---------------------------------------------------------------------

    def _event(self, type_: str, obj: Json, previous: Json | None = None) -> Json:
        data: Json = {"object": self._render(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        event = self._insert(
            {
                "id": _new_id("evt"),
                "object": "event",
                "api_version": self.api_version,
                "created": self._now(),
                "data": data,
                "livemode": False,
                "pending_webhooks": 1,
                # The API call that caused it; null when no API call did.
                "request": copy.copy(self._request) or {"id": None, "idempotency_key": None},
                "type": type_,
            }
        )
        self.events.append(event)
        return copy.deepcopy(event)

    # --- Account --------------------------------------------------------------------

    def _new_account(self) -> Json:
        return {
            "id": _new_id("acct"),
            "object": "account",
            "business_profile": {
                "name": "Mensc (test)",
                **_nulls(
                    "annual_revenue estimated_worker_count mcc product_description "
                    "support_address support_email support_phone support_url url"
                ),
            },
            "capabilities": {"card_payments": "active", "transfers": "active"},
            "charges_enabled": True,
            "controller": {"type": "account"},
            "country": "US",
            "created": self._now(),
            "default_currency": "usd",
            "details_submitted": True,
            "email": "billing@example.com",
            "metadata": {},
            "payouts_enabled": True,
            "settings": {
                "branding": {
                    **_nulls("icon logo primary_color secondary_color"),
                },
                "dashboard": {"display_name": "Mensc", "timezone": "Etc/UTC"},
                "payments": {"statement_descriptor": "MENSC"},
            },
            "type": "standard",
            "business_type": None,
        }

    def _api_account(self, params: Json) -> Json:
        self._check(params, frozenset({"expand"}))
        return self._answer(self.account, params)

    def _retriever(self, object_name: str) -> Callable[..., Json]:
        def retrieve(params: Json, id_: str) -> Json:
            self._check(params, frozenset({"expand"}))
            obj = self._objects.get(id_)
            if (
                obj is not None
                and obj["object"] == "customer" == object_name
                and obj.get("deleted")
            ):
                return {"id": id_, "object": "customer", "deleted": True}
            return self._answer(self._get(object_name, id_), params)

        return retrieve

    # --- Customers ------------------------------------------------------------------

    def _create_customer(self, params: Json, metadata: Json | None = None) -> Json:
        customer = self._insert(
            {
                "id": _new_id("cus"),
                "object": "customer",
                "address": params.get("address"),
                "balance": 0,
                "created": self._now(),
                "delinquent": False,
                "description": params.get("description"),
                "email": params.get("email"),
                "invoice_prefix": secrets.token_hex(4).upper(),
                "invoice_settings": {
                    **_nulls("custom_fields default_payment_method footer rendering_options"),
                },
                "livemode": False,
                "metadata": _merge_metadata({}, params.get("metadata", metadata or {})),
                "name": params.get("name"),
                "next_invoice_sequence": 1,
                "phone": params.get("phone"),
                "preferred_locales": params.get("preferred_locales", []),
                "shipping": params.get("shipping"),
                "tax_exempt": params.get("tax_exempt", "none"),
                **_nulls("currency default_source discount test_clock"),
            }
        )
        self._event("customer.created", customer)
        return customer

    def _api_create_customer(self, params: Json) -> Json:
        self._check(params, _allowed(stripe_params.CustomerCreateParams))
        return self._answer(self._create_customer(params), params)

    def _api_update_customer(self, params: Json, id_: str) -> Json:
        self._check(params, _allowed(stripe_params.CustomerModifyParams))
        customer = self._get("customer", id_)
        previous = self._update(
            customer,
            params,
            ("address", "description", "email", "name", "phone", "preferred_locales", "shipping"),
        )
        if "invoice_settings" in params:
            settings = _dict(params["invoice_settings"], "invoice_settings")
            previous["invoice_settings"] = copy.deepcopy(customer["invoice_settings"])
            customer["invoice_settings"].update(settings)
        if previous:
            self._event("customer.updated", customer, previous)
        return self._answer(customer, params)

    def _update(self, obj: Json, params: Json, fields: tuple[str, ...]) -> Json:
        """Apply plain field and metadata updates; return the previous values that changed."""
        previous: Json = {}
        for field in fields:
            if field in params and params[field] != obj.get(field):
                previous[field] = obj.get(field)
                obj[field] = None if params[field] == "" else params[field]
        if "metadata" in params:
            metadata = _merge_metadata(obj["metadata"], params["metadata"])
            if metadata != obj["metadata"]:
                previous["metadata"] = obj["metadata"]
                obj["metadata"] = metadata
        return previous

    def _api_delete_customer(self, params: Json, id_: str) -> Json:
        self._check(params, _allowed(stripe_params.CustomerDeleteParams))
        customer = self._get("customer", id_)
        self._event("customer.deleted", customer)
        customer["deleted"] = True
        return {"id": id_, "object": "customer", "deleted": True}

    def _api_list_customers(self, params: Json) -> Json:
        equal = {"email": params["email"]} if "email" in params else {}
        customers = [c for c in self._of("customer", **equal) if not c.get("deleted")]
        return self._paginate(
            "/v1/customers",
            customers,
            params,
            allowed=_allowed(stripe_params.CustomerListParams),
            filters=frozenset({"email"}),
        )

    def _customer_details(self, customer: Json) -> Json:
        return {
            "address": customer["address"],
            "email": customer["email"],
            "name": customer["name"],
            "phone": customer["phone"],
            "tax_exempt": customer["tax_exempt"],
            "tax_ids": [],
            "business_name": None,
            "individual_name": None,
        }

    # --- Products and prices --------------------------------------------------------

    def _create_product(self, params: Json) -> Json:
        if not params.get("name"):
            raise _required("name")
        now = self._now()
        product = self._insert(
            {
                "id": params.get("id") or _new_id("prod"),
                "object": "product",
                "active": _bool(params.get("active", True), "active"),
                "created": now,
                "description": params.get("description"),
                "images": params.get("images", []),
                "livemode": False,
                "marketing_features": [],
                "metadata": _merge_metadata({}, params.get("metadata", {})),
                "name": _str(params["name"], "name"),
                "statement_descriptor": params.get("statement_descriptor"),
                "tax_code": params.get("tax_code"),
                "type": "service",
                "unit_label": params.get("unit_label"),
                "updated": now,
                "url": params.get("url"),
                **_nulls("default_price package_dimensions shippable"),
            }
        )
        self._event("product.created", product)
        return product

    def _api_create_product(self, params: Json) -> Json:
        self._check(params, _allowed(stripe_params.ProductCreateParams))
        if params.get("id") in self._objects:
            raise _invalid("id", f"Product already exists: {params['id']}")
        product = self._create_product(params)
        if "default_price_data" in params:
            price_data = _dict(params["default_price_data"], "default_price_data")
            product["default_price"] = self._create_price({**price_data, "product": product["id"]})[
                "id"
            ]
        return self._answer(product, params)

    def _api_update_product(self, params: Json, id_: str) -> Json:
        self._check(params, _allowed(stripe_params.ProductModifyParams))
        product = self._get("product", id_)
        if "active" in params:
            params = {**params, "active": _bool(params["active"], "active")}
        if "default_price" in params:
            self._get("price", params["default_price"], "default_price")
        fields = ("active", "default_price", "description", "name", "unit_label", "url")
        previous = self._update(product, params, fields)
        if previous:
            product["updated"] = self._now()
            self._event("product.updated", product, previous)
        return self._answer(product, params)

    def _api_list_products(self, params: Json) -> Json:
        products = self._of("product")
        if "active" in params:
            products = [p for p in products if p["active"] == _bool(params["active"], "active")]
        if "ids" in params:
            products = [p for p in products if p["id"] in params["ids"]]
        return self._paginate(
            "/v1/products",
            products,
            params,
            allowed=_allowed(stripe_params.ProductListParams),
            filters=frozenset({"active", "ids"}),
        )

    def _api_product_features(self, params: Json, id_: str) -> Json:
        self._get("product", id_)
        return self._paginate(
            f"/v1/products/{id_}/features",
            [],
            params,
            allowed=_allowed(stripe_params.ProductListFeaturesParams),
        )

    def _create_price(self, params: Json) -> Json:
        if "product" in params and "product_data" in params:
            raise _invalid(
                "product", "You may only specify one of these parameters: product, product_data."
            )
        if "product_data" in params:
            product = self._create_product(_dict(params["product_data"], "product_data"))
        elif "product" in params:
            product = self._get("product", params["product"], "product")
        else:
            raise _required("product")
        if "currency" not in params:
            raise _required("currency")
        if "unit_amount" not in params:
            raise _required("unit_amount")
        amount = _int(params["unit_amount"], "unit_amount")
        recurring = None
        if "recurring" in params:
            wanted = _dict(params["recurring"], "recurring")
            if wanted.get("interval") not in _INTERVALS:
                raise _invalid(
                    "recurring[interval]",
                    "Invalid recurring[interval]: must be one of day, month, week, or year",
                )
            recurring = {
                "interval": wanted["interval"],
                "interval_count": _int(
                    wanted.get("interval_count", 1), "recurring[interval_count]"
                ),
                "usage_type": wanted.get("usage_type", "licensed"),
                "meter": None,
                "trial_period_days": None,
            }
        price = self._insert(
            {
                "id": _new_id("price"),
                "object": "price",
                "active": _bool(params.get("active", True), "active"),
                "billing_scheme": "per_unit",
                "created": self._now(),
                "currency": _str(params["currency"], "currency").lower(),
                "livemode": False,
                "lookup_key": params.get("lookup_key"),
                "metadata": _merge_metadata({}, params.get("metadata", {})),
                "nickname": params.get("nickname"),
                "product": product["id"],
                "recurring": recurring,
                "tax_behavior": params.get("tax_behavior", "unspecified"),
                "type": "recurring" if recurring else "one_time",
                "unit_amount": amount,
                "unit_amount_decimal": str(amount),
                **_nulls("custom_unit_amount tiers_mode transform_quantity"),
            }
        )
        self._event("price.created", price)
        return price

    def _api_create_price(self, params: Json) -> Json:
        self._check(params, _allowed(stripe_params.PriceCreateParams))
        return self._answer(self._create_price(params), params)

    def _api_update_price(self, params: Json, id_: str) -> Json:
        self._check(params, _allowed(stripe_params.PriceModifyParams))
        price = self._get("price", id_)
        if "active" in params:
            params = {**params, "active": _bool(params["active"], "active")}
        previous = self._update(price, params, ("active", "lookup_key", "nickname", "tax_behavior"))
        if previous:
            self._event("price.updated", price, previous)
        return self._answer(price, params)

    def _api_list_prices(self, params: Json) -> Json:
        prices = self._of("price")
        if "active" in params:
            prices = [p for p in prices if p["active"] == _bool(params["active"], "active")]
        for field in ("currency", "product", "type"):
            if field in params:
                prices = [p for p in prices if p[field] == params[field]]
        if "lookup_keys" in params:
            prices = [p for p in prices if p["lookup_key"] in params["lookup_keys"]]
        return self._paginate(
            "/v1/prices",
            prices,
            params,
            allowed=_allowed(stripe_params.PriceListParams),
            filters=frozenset({"active", "currency", "lookup_keys", "product", "type"}),
        )

    @staticmethod
    def _plan(price: Json) -> Json:
        """The legacy `plan` view of a recurring price, still on subscription items."""
        recurring = price["recurring"] or {}
        return {
            "id": price["id"],
            "object": "plan",
            "active": price["active"],
            "amount": price["unit_amount"],
            "amount_decimal": price["unit_amount_decimal"],
            "billing_scheme": price["billing_scheme"],
            "created": price["created"],
            "currency": price["currency"],
            "interval": recurring.get("interval"),
            "interval_count": recurring.get("interval_count"),
            "livemode": False,
            "metadata": price["metadata"],
            "nickname": price["nickname"],
            "product": price["product"],
            "usage_type": recurring.get("usage_type"),
            **_nulls("meter tiers_mode transform_usage trial_period_days"),
        }

    # --- Checkout and the Billing Portal --------------------------------------------

    def _api_create_checkout(self, params: Json) -> Json:
        self._check(params, _allowed(checkout_params.SessionCreateParams))
        mode = params.get("mode")
        if mode is None:
            raise _required("mode")
        if mode not in ("subscription", "payment"):
            raise _invalid(
                "mode", f"The Stripe fake models mode=subscription and payment only, not {mode!r}."
            )
        if "customer" in params and "customer_email" in params:
            raise _invalid(
                "customer_email",
                "You may only specify one of these parameters: customer, customer_email.",
            )
        customer = (
            self._get("customer", params["customer"], "customer") if "customer" in params else None
        )
        line_items = params.get("line_items")
        if not line_items:
            raise _required("line_items")
        if not isinstance(line_items, list):
            raise _invalid("line_items", "Invalid array")
        allowed_item = _allowed(checkout_params.SessionCreateParamsLineItem)
        items: list[tuple[Json, int]] = []
        for index, item in enumerate(line_items):
            prefix = f"line_items[{index}]"
            for name in _dict(item, prefix):
                if name not in allowed_item:
                    raise StripeAPIError(
                        400,
                        f"Received unknown parameter: {prefix}[{name}]",
                        code="parameter_unknown",
                        param=f"{prefix}[{name}]",
                    )
            if "price" not in item:
                raise _required(f"{prefix}[price]")
            if "quantity" not in item:
                raise _required(f"{prefix}[quantity]")
            price = self._get("price", item["price"], f"{prefix}[price]")
            if not price["active"]:
                raise _invalid(
                    f"{prefix}[price]",
                    "The price specified is inactive. This field only accepts active prices.",
                )
            quantity = _int(item["quantity"], f"{prefix}[quantity]")
            if quantity < 1:
                raise _invalid(
                    f"{prefix}[quantity]", "This value must be greater than or equal to 1."
                )
            items.append((price, quantity))
        if mode == "payment" and any(price["recurring"] for price, _ in items):
            raise _invalid(
                "line_items",
                "You specified `payment` mode but passed a recurring price. Either switch to "
                "`subscription` mode or use only one-time prices.",
            )
        if mode == "subscription" and not any(price["recurring"] for price, _ in items):
            raise _invalid(
                "line_items",
                "You must provide at least one recurring price in `subscription` mode when "
                "using prices.",
            )
        if mode == "subscription" and not all(price["recurring"] for price, _ in items):
            raise _invalid(
                "line_items",
                "The Stripe fake models recurring prices only in subscription mode.",
            )
        if mode == "subscription" and "payment_intent_data" in params:
            raise _invalid(
                "payment_intent_data",
                "You can not pass `payment_intent_data` in `subscription` mode.",
            )
        currencies = {price["currency"] for price, _ in items}
        if len(currencies) > 1:
            raise _invalid(
                "line_items", "All prices on a Checkout Session must have the same currency."
            )
        reference = params.get("client_reference_id")
        if reference is not None and len(reference) > 200:
            raise _invalid(
                "client_reference_id", "client_reference_id must be at most 200 characters."
            )
        subscription_data = _dict(params.get("subscription_data", {}), "subscription_data")
        intent_data = _dict(params.get("payment_intent_data", {}), "payment_intent_data")
        now = self._now()
        expires_at = _int(params.get("expires_at", now + 86_400), "expires_at")
        if not now + 1800 <= expires_at <= now + 86_400:
            raise _invalid(
                "expires_at",
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
            )
        total = sum(price["unit_amount"] * quantity for price, quantity in items)
        session_id = _new_id("cs_test")
        session = self._insert(
            {
                "id": session_id,
                "object": "checkout.session",
                "allow_promotion_codes": params.get("allow_promotion_codes"),
                "amount_subtotal": total,
                "amount_total": total,
                "automatic_tax": {
                    "enabled": False,
                    **_nulls("liability provider status"),
                },
                "billing_address_collection": params.get("billing_address_collection"),
                "cancel_url": params.get("cancel_url"),
                "client_reference_id": reference,
                "created": now,
                "currency": currencies.pop(),
                "custom_fields": [],
                "custom_text": {
                    **_nulls("after_submit shipping_address submit terms_of_service_acceptance"),
                },
                "customer": customer["id"] if customer else None,
                "customer_creation": None
                if customer
                else ("if_required" if mode == "payment" else "always"),
                "customer_details": self._customer_details(customer) if customer else None,
                "customer_email": params.get("customer_email"),
                "discounts": [],
                "expires_at": expires_at,
                "livemode": False,
                "locale": params.get("locale"),
                "metadata": _merge_metadata({}, params.get("metadata", {})),
                "mode": mode,
                "payment_method_collection": params.get("payment_method_collection", "always"),
                "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
                "payment_method_types": params.get("payment_method_types", ["card"]),
                "payment_status": "unpaid",
                "phone_number_collection": {"enabled": False},
                "saved_payment_method_options": {
                    "allow_redisplay_filters": ["always"],
                    "payment_method_remove": "disabled",
                    "payment_method_save": None,
                },
                "shipping_options": [],
                "status": "open",
                "success_url": params.get("success_url"),
                "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
                "ui_mode": params.get("ui_mode", "hosted"),
                "url": f"{self.base_url}/checkout/{session_id}",
                **_nulls(
                    "adaptive_pricing after_expiration client_secret collected_information "
                    "consent consent_collection currency_conversion invoice invoice_creation "
                    "origin_context payment_intent payment_link "
                    "payment_method_configuration_details permissions recovered_from setup_intent "
                    "shipping_address_collection shipping_cost submit_type subscription "
                    "wallet_options"
                ),
            }
        )
        self._children[session_id] = [
            self._insert(
                {
                    "id": _new_id("li"),
                    "object": "item",
                    "amount_discount": 0,
                    "amount_subtotal": price["unit_amount"] * quantity,
                    "amount_tax": 0,
                    "amount_total": price["unit_amount"] * quantity,
                    "currency": price["currency"],
                    "description": self._objects[price["product"]]["name"],
                    "metadata": {},
                    "price": price["id"],
                    "quantity": quantity,
                }
            )["id"]
            for price, quantity in items
        ]
        # What Checkout will put on the payment intent or subscription it creates.
        self._payment_intent_data[session_id] = {
            "metadata": _merge_metadata({}, intent_data.get("metadata", {})),
            "description": intent_data.get("description"),
        }
        self._subscription_data[session_id] = {
            "metadata": _merge_metadata({}, subscription_data.get("metadata", {})),
            "trial_period_days": subscription_data.get("trial_period_days"),
            "description": subscription_data.get("description"),
        }
        return self._answer(session, params)

    def _api_checkout_items(self, params: Json, id_: str) -> Json:
        self._get("checkout.session", id_)
        return self._paginate(
            f"/v1/checkout/sessions/{id_}/line_items",
            [self._objects[item_id] for item_id in self._children[id_]],
            params,
            allowed=_allowed(checkout_params.SessionListLineItemsParams),
            newest_first=False,  # in the order given
        )

    def _api_list_checkouts(self, params: Json) -> Json:
        sessions = self._of("checkout.session")
        for field in ("customer", "status", "subscription"):
            if field in params:
                sessions = [s for s in sessions if s[field] == params[field]]
        return self._paginate(
            "/v1/checkout/sessions",
            sessions,
            params,
            allowed=_allowed(checkout_params.SessionListParams),
            filters=frozenset({"customer", "status", "subscription"}),
        )

    def _api_expire_checkout(self, params: Json, id_: str) -> Json:
        self._check(params, _allowed(checkout_params.SessionExpireParams))
        session = self._get("checkout.session", id_)
        if session["status"] != "open":
            raise _invalid(
                "session",
                'Only Checkout Sessions with a status in ["open"] can be expired. This '
                f'Checkout Session has a status of "{session["status"]}".',
            )
        self._expire(session)
        return self._answer(session, params)

    def _expire(self, session: Json) -> Json:
        session.update({"status": "expired", "url": None})
        return self._event("checkout.session.expired", session)

    def _checkout_customer(self, session: Json) -> Json:
        if session["customer"]:
            return self._objects[session["customer"]]
        email = session["customer_email"] or "member@example.com"
        return self._create_customer({"email": email})

    def _api_create_portal(self, params: Json) -> Json:
        self._check(params, _allowed(portal_params.SessionCreateParams))
        if "customer" not in params:
            raise _required("customer")
        customer = self._get("customer", params["customer"], "customer")
        session_id = _new_id("bps")
        session = self._insert(
            {
                "id": session_id,
                "object": "billing_portal.session",
                "configuration": self._portal_configuration,
                "created": self._now(),
                "customer": customer["id"],
                "livemode": False,
                "locale": params.get("locale"),
                "on_behalf_of": params.get("on_behalf_of"),
                "return_url": params.get("return_url"),
                "url": f"{self.base_url}/portal/{session_id}",
                "customer_account": None,
                "flow": None,
            }
        )
        return self._answer(session, params)

    # --- Subscriptions and invoices -------------------------------------------------

    def _new_payment_method(self, customer_id: str) -> Json:
        return self._insert(
            {
                "id": _new_id("pm"),
                "object": "payment_method",
                "allow_redisplay": "always",
                "billing_details": {
                    **_nulls("address email name phone tax_id"),
                },
                "card": {
                    "brand": "visa",
                    "checks": {
                        "cvc_check": "pass",
                        "address_line1_check": None,
                        "address_postal_code_check": None,
                    },
                    "country": "US",
                    "display_brand": "visa",
                    "exp_month": 12,
                    "exp_year": dt.datetime.now(dt.UTC).year + 3,
                    "funding": "credit",
                    "last4": "4242",
                    "networks": {"available": ["visa"], "preferred": None},
                    "wallet": None,
                },
                "created": self._now(),
                "customer": customer_id,
                "livemode": False,
                "metadata": {},
                "type": "card",
            }
        )

    def _start_subscription(self, session: Json, customer: Json, method_id: str, now: int) -> Json:
        settings = self._subscription_data[session["id"]]
        items = [self._objects[item_id] for item_id in self._children[session["id"]]]
        recurring = self._objects[items[0]["price"]]["recurring"]
        trial_days = settings["trial_period_days"]
        trial_end = now + 86_400 * _int(trial_days, "trial_period_days") if trial_days else None
        period_end = trial_end or _add_interval(
            now, recurring["interval"], recurring["interval_count"]
        )
        subscription_id = _new_id("sub")
        subscription = self._insert(
            {
                "id": subscription_id,
                "object": "subscription",
                "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
                "billing_cycle_anchor": period_end if trial_end else now,
                "billing_mode": {
                    "flexible": {"proration_discounts": "included"},
                    "type": "flexible",
                    "updated_at": now,
                },
                "cancel_at_period_end": False,
                "cancellation_details": {"comment": None, "feedback": None, "reason": None},
                "collection_method": "charge_automatically",
                "created": now,
                "currency": session["currency"],
                "customer": customer["id"],
                "default_payment_method": method_id,
                "default_tax_rates": [],
                "description": settings["description"],
                "discounts": [],
                "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
                "livemode": False,
                "metadata": settings["metadata"],
                "payment_settings": {
                    "save_default_payment_method": "off",
                    "payment_method_options": None,
                    "payment_method_types": None,
                },
                "start_date": now,
                "status": "trialing" if trial_end else "active",
                "trial_end": trial_end,
                "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
                "trial_start": now if trial_end else None,
                **_nulls(
                    "application application_fee_percent billing_cycle_anchor_config "
                    "billing_thresholds cancel_at canceled_at customer_account days_until_due "
                    "default_source ended_at latest_invoice next_pending_invoice_item_invoice "
                    "on_behalf_of pause_collection pending_invoice_item_interval "
                    "pending_setup_intent pending_update schedule test_clock transfer_data"
                ),
            }
        )
        self._children[subscription_id] = [
            self._insert(
                {
                    "id": _new_id("si"),
                    "object": "subscription_item",
                    "created": now,
                    "current_period_end": period_end,
                    "current_period_start": now,
                    "discounts": [],
                    "metadata": {},
                    "price": item["price"],
                    "quantity": item["quantity"],
                    "subscription": subscription_id,
                    "tax_rates": [],
                    "billed_until": None,
                    "billing_thresholds": None,
                }
            )["id"]
            for item in items
        ]
        return subscription

    def _items_of(self, subscription: Json) -> list[Json]:
        return [self._objects[item_id] for item_id in self._children[subscription["id"]]]

    def _payments_of(self, invoice_id: str) -> list[str]:
        return [p["id"] for p in self._of("invoice_payment", invoice=invoice_id)]

    def _new_invoice(
        self, subscription: Json, *, billing_reason: str, period: tuple[int, int], paid: bool
    ) -> Json:
        """An invoice for the subscription's current period, paid or with one failed attempt."""
        now = self._now()
        customer = self._objects[subscription["customer"]]
        trialing = subscription["status"] == "trialing"
        lines = []
        for item in self._items_of(subscription):
            price = self._objects[item["price"]]
            amount = 0 if trialing else price["unit_amount"] * item["quantity"]
            interval = (price["recurring"] or {}).get("interval", "month")
            name = self._objects[price["product"]]["name"]
            unit = _money(price["unit_amount"], price["currency"])
            description = (
                f"Trial period for {name}"
                if trialing
                else f"{item['quantity']} \N{MULTIPLICATION SIGN} {name} (at {unit} / {interval})"
            )
            lines.append((item, price, amount, description))
        total = sum(amount for _, _, amount, _ in lines)
        invoice_id = _new_id("in")
        number = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
        customer["next_invoice_sequence"] += 1
        invoice = self._insert(
            {
                "id": invoice_id,
                "object": "invoice",
                "account_country": self.account["country"],
                "account_name": self.account["business_profile"]["name"],
                "amount_due": total,
                "amount_overpaid": 0,
                "amount_paid": 0,
                "amount_paid_off_stripe": 0,
                "amount_remaining": total,
                "amount_shipping": 0,
                "attempt_count": 0,
                "attempted": False,
                "auto_advance": True,
                "automatic_tax": {
                    "enabled": False,
                    **_nulls("disabled_reason liability provider status"),
                },
                "billing_reason": billing_reason,
                "collection_method": "charge_automatically",
                "created": now,
                "currency": subscription["currency"],
                "customer": customer["id"],
                "customer_address": customer["address"],
                "customer_email": customer["email"],
                "customer_name": customer["name"],
                "customer_phone": customer["phone"],
                "customer_shipping": customer["shipping"],
                "customer_tax_exempt": customer["tax_exempt"],
                "customer_tax_ids": [],
                "default_tax_rates": [],
                "discounts": [],
                "effective_at": now,
                "ending_balance": 0,
                "hosted_invoice_url": f"{self.base_url}/i/{invoice_id}",
                "invoice_pdf": f"{self.base_url}/i/{invoice_id}/pdf",
                "issuer": {"type": "self"},
                "livemode": False,
                "metadata": {},
                "number": number,
                # Since API version 2025-03-31.basil the subscription is here, not at the top.
                "parent": {
                    "subscription_details": {
                        "metadata": subscription["metadata"],
                        "subscription": subscription["id"],
                        "subscription_proration_date": None,
                    },
                    "type": "subscription_details",
                    "quote_details": None,
                },
                "payment_settings": {
                    **_nulls("default_mandate payment_method_options payment_method_types"),
                },
                "period_end": period[1],
                "period_start": period[0],
                "post_payment_credit_notes_amount": 0,
                "pre_payment_credit_notes_amount": 0,
                "starting_balance": 0,
                "status": "open",
                "status_transitions": {
                    "finalized_at": now,
                    **_nulls("marked_uncollectible_at paid_at voided_at"),
                },
                "subtotal": total,
                "subtotal_excluding_tax": total,
                "total": total,
                "total_discount_amounts": [],
                "total_excluding_tax": total,
                "total_pretax_credit_amounts": [],
                "total_taxes": [],
                "webhooks_delivered_at": now,
                **_nulls(
                    "account_tax_ids application automatically_finalizes_at custom_fields "
                    "customer_account default_payment_method default_source description due_date "
                    "footer from_invoice last_finalization_error latest_revision "
                    "next_payment_attempt on_behalf_of receipt_number rendering shipping_cost "
                    "shipping_details statement_descriptor test_clock threshold_reason"
                ),
            }
        )
        self._children[invoice_id] = [
            self._insert(
                {
                    "id": _new_id("il"),
                    "object": "line_item",
                    "amount": amount,
                    "currency": price["currency"],
                    "description": description,
                    "discount_amounts": [],
                    "discountable": True,
                    "discounts": [],
                    "invoice": invoice_id,
                    "livemode": False,
                    "metadata": {},
                    "parent": {
                        "subscription_item_details": {
                            "proration": False,
                            "proration_details": {"credited_items": None},
                            "subscription": subscription["id"],
                            "subscription_item": item["id"],
                            "invoice_item": None,
                        },
                        "type": "subscription_item_details",
                        "invoice_item_details": None,
                    },
                    "period": {
                        "end": item["current_period_end"],
                        "start": item["current_period_start"],
                    },
                    "pretax_credit_amounts": [],
                    "pricing": {
                        "price_details": {"price": price["id"], "product": price["product"]},
                        "type": "price_details",
                        "unit_amount_decimal": price["unit_amount_decimal"],
                    },
                    "quantity": item["quantity"],
                    "subscription": subscription["id"],
                    "subtotal": amount,
                    "taxes": [],
                }
            )["id"]
            for item, price, amount, description in lines
        ]
        subscription["latest_invoice"] = invoice_id
        if total == 0:
            self._settle(invoice, None)
        else:
            intent = self._new_payment_intent(invoice, subscription["default_payment_method"])
            self._insert(
                {
                    "id": _new_id("inpay"),
                    "object": "invoice_payment",
                    "amount_requested": total,
                    "created": now,
                    "currency": invoice["currency"],
                    "invoice": invoice_id,
                    "is_default": True,
                    "livemode": False,
                    "payment": {"payment_intent": intent["id"], "type": "payment_intent"},
                    "status": "open",
                    "status_transitions": {"canceled_at": None, "paid_at": None},
                    "amount_paid": None,
                }
            )
            if paid:
                self._settle(invoice, intent)
            else:
                self._decline(invoice, intent)
        return invoice

    def _new_payment_intent(self, invoice: Json, method_id: str | None) -> Json:
        return self._insert(
            self._payment_intent_fields(
                amount=invoice["amount_due"],
                currency=invoice["currency"],
                customer_id=invoice["customer"],
                method_id=method_id,
                description="Subscription creation"
                if invoice["billing_reason"] == "subscription_create"
                else "Subscription update",
            )
        )

    def _payment_intent_fields(
        self,
        *,
        amount: int,
        currency: str,
        customer_id: str,
        method_id: str | None,
        description: str | None,
    ) -> Json:
        return {
            "id": _new_id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "capture_method": "automatic",
            "client_secret": f"pi_secret_{secrets.token_hex(12)}",
            "confirmation_method": "automatic",
            "created": self._now(),
            "currency": currency,
            "customer": customer_id,
            "description": description,
            "livemode": False,
            "metadata": {},
            "payment_method": method_id,
            "payment_method_types": ["card"],
            "setup_future_usage": "off_session",
            "status": "requires_confirmation",
            **_nulls(
                "application application_fee_amount automatic_payment_methods canceled_at "
                "cancellation_reason last_payment_error latest_charge next_action "
                "on_behalf_of processing receipt_email review shipping statement_descriptor "
                "statement_descriptor_suffix transfer_data transfer_group"
            ),
        }

    def _settle(self, invoice: Json, intent: Json | None) -> None:
        now = self._now()
        invoice.update(
            {
                "amount_paid": invoice["amount_due"],
                "amount_remaining": 0,
                "attempt_count": invoice["attempt_count"] + (1 if intent else 0),
                "attempted": True,
                "auto_advance": False,
                "status": "paid",
                "next_payment_attempt": None,
            }
        )
        invoice["status_transitions"]["paid_at"] = now
        if intent is None:
            return
        intent.update(
            {
                "amount_received": intent["amount"],
                "status": "succeeded",
                "last_payment_error": None,
            }
        )
        for payment_id in self._payments_of(invoice["id"]):
            self._objects[payment_id].update(
                {
                    "amount_paid": invoice["amount_due"],
                    "status": "paid",
                    "status_transitions": {"canceled_at": None, "paid_at": now},
                }
            )

    def _decline(self, invoice: Json, intent: Json) -> None:
        invoice.update(
            {
                "attempt_count": invoice["attempt_count"] + 1,
                "attempted": True,
                "next_payment_attempt": self._now() + 3 * 86_400,
            }
        )
        intent.update(
            {
                "last_payment_error": {
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                    "message": "Your card has insufficient funds.",
                    "payment_method": {"id": intent["payment_method"], "object": "payment_method"},
                    "type": "card_error",
                },
                "status": "requires_payment_method",
            }
        )

    def _renew(self, subscription_id: str, *, paid: bool) -> list[Json]:
        with self._lock:
            subscription = self._get("subscription", subscription_id)
            status = subscription["status"]
            assert status in ("active", "past_due", "trialing"), f"subscription is {status}"
            items = self._items_of(subscription)
            previous: Json = {
                "items": self._render(subscription)["items"],
                "latest_invoice": subscription["latest_invoice"],
            }
            ended = (items[0]["current_period_start"], items[0]["current_period_end"])
            for item in items:
                recurring = self._objects[item["price"]]["recurring"]
                start = item["current_period_end"]
                item["current_period_start"] = start
                item["current_period_end"] = _add_interval(
                    start, recurring["interval"], recurring["interval_count"]
                )
            subscription["status"] = "active"  # a trial ends here
            invoice = self._new_invoice(
                subscription, billing_reason="subscription_cycle", period=ended, paid=paid
            )
            subscription["status"] = "active" if paid else "past_due"
            if subscription["status"] != status:
                previous["status"] = status
            invoice_event = self._event(
                "invoice.paid" if paid else "invoice.payment_failed", invoice
            )
            updated = self._event("customer.subscription.updated", subscription, previous)
            return [invoice_event, updated]

    def _pay_invoice(self, invoice: Json) -> list[Json]:
        if invoice["status"] != "open":
            raise _invalid(
                "invoice",
                "Invoice is already paid"
                if invoice["status"] == "paid"
                else f"This invoice is {invoice['status']}.",
            )
        intents = [
            self._objects[self._objects[p]["payment"]["payment_intent"]]
            for p in self._payments_of(invoice["id"])
        ]
        self._settle(invoice, intents[0] if intents else None)
        events = [self._event("invoice.paid", invoice)]
        subscription_id = invoice["parent"]["subscription_details"]["subscription"]
        subscription = self._objects[subscription_id]
        if subscription["status"] in ("past_due", "incomplete", "unpaid"):
            previous = {"status": subscription["status"]}
            subscription["status"] = "active"
            events.append(self._event("customer.subscription.updated", subscription, previous))
        return events

    def _cancel(self, subscription: Json, reason: str) -> Json:
        if subscription["status"] == "canceled":
            raise _missing("subscription", subscription["id"])
        now = self._now()
        subscription.update(
            {
                "canceled_at": now,
                "cancellation_details": {**subscription["cancellation_details"], "reason": reason},
                "ended_at": now,
                "status": "canceled",
            }
        )
        return self._event("customer.subscription.deleted", subscription)

    def _api_list_subscriptions(self, params: Json) -> Json:
        status = params.get("status")
        subscriptions = self._of("subscription")
        if "customer" in params:
            subscriptions = [s for s in subscriptions if s["customer"] == params["customer"]]
        if "price" in params:
            subscriptions = [
                s
                for s in subscriptions
                if any(i["price"] == params["price"] for i in self._items_of(s))
            ]
        if status is None:  # Stripe's default: all but canceled
            subscriptions = [s for s in subscriptions if s["status"] != "canceled"]
        elif status == "ended":
            subscriptions = [
                s for s in subscriptions if s["status"] in ("canceled", "incomplete_expired")
            ]
        elif status != "all":
            subscriptions = [s for s in subscriptions if s["status"] == status]
        return self._paginate(
            "/v1/subscriptions",
            subscriptions,
            params,
            allowed=_allowed(stripe_params.SubscriptionListParams),
            filters=frozenset({"customer", "price", "status"}),
        )

    def _api_update_subscription(self, params: Json, id_: str) -> Json:
        self._check(params, _allowed(stripe_params.SubscriptionModifyParams))
        subscription = self._get("subscription", id_)
        modeled = {"cancel_at_period_end", "description", "metadata", "expand"}
        for name in params:
            if name not in modeled:
                raise StripeAPIError(
                    400,
                    f"The Stripe fake does not implement updating `{name}` on subscriptions.",
                    code="fake_unsupported",
                    param=name,
                )
        if subscription["status"] == "canceled" and set(params) - {"metadata", "expand"}:
            raise _invalid(
                "subscription",
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        if "cancel_at_period_end" in params:
            params = {
                **params,
                "cancel_at_period_end": _bool(
                    params["cancel_at_period_end"], "cancel_at_period_end"
                ),
            }
        previous = self._update(subscription, params, ("cancel_at_period_end", "description"))
        if "cancel_at_period_end" in previous:
            ending = subscription["cancel_at_period_end"]
            previous["cancel_at"] = subscription["cancel_at"]
            subscription["cancel_at"] = (
                self._items_of(subscription)[0]["current_period_end"] if ending else None
            )
            previous["canceled_at"] = subscription["canceled_at"]
            subscription["canceled_at"] = self._now() if ending else None
        if previous:
            self._event("customer.subscription.updated", subscription, previous)
        return self._answer(subscription, params)

    def _api_cancel_subscription(self, params: Json, id_: str) -> Json:
        self._check(params, _allowed(stripe_params.SubscriptionCancelParams))
        subscription = self._get("subscription", id_)
        self._cancel(subscription, "cancellation_requested")
        return self._answer(subscription, params)

    def _api_list_subscription_items(self, params: Json) -> Json:
        if "subscription" not in params:
            raise _required("subscription")
        subscription = self._get("subscription", params["subscription"], "subscription")
        return self._paginate(
            f"/v1/subscription_items?subscription={subscription['id']}",
            self._items_of(subscription),
            params,
            allowed=_allowed(stripe_params.SubscriptionItemListParams),
            filters=frozenset({"subscription"}),
        )

    def _api_list_invoices(self, params: Json) -> Json:
        invoices = self._of("invoice")
        for field in ("customer", "status"):
            if field in params:
                invoices = [i for i in invoices if i[field] == params[field]]
        if "subscription" in params:
            invoices = [
                i
                for i in invoices
                if i["parent"]["subscription_details"]["subscription"] == params["subscription"]
            ]
        return self._paginate(
            "/v1/invoices",
            invoices,
            params,
            allowed=_allowed(stripe_params.InvoiceListParams),
            filters=frozenset({"customer", "status", "subscription"}),
        )

    def _api_invoice_lines(self, params: Json, id_: str) -> Json:
        self._get("invoice", id_)
        return self._paginate(
            f"/v1/invoices/{id_}/lines",
            [self._objects[line_id] for line_id in self._children[id_]],
            params,
            allowed=_allowed(stripe_params.InvoiceListLinesParams),
            newest_first=False,  # in their order on the invoice
        )

    def _api_pay_invoice(self, params: Json, id_: str) -> Json:
        self._check(params, _allowed(stripe_params.InvoicePayParams))
        invoice = self._get("invoice", id_)
        self._pay_invoice(invoice)
        return self._answer(invoice, params)

    def _api_list_invoice_payments(self, params: Json) -> Json:
        payments = self._of("invoice_payment")
        if "invoice" in params:
            payments = [p for p in payments if p["invoice"] == params["invoice"]]
        return self._paginate(
            "/v1/invoice_payments",
            payments,
            params,
            allowed=_allowed(stripe_params.InvoicePaymentListParams),
            filters=frozenset({"invoice"}),
        )

    # --- Refunds --------------------------------------------------------------------

    def _api_create_refund(self, params: Json) -> Json:
        """A refund of a charge, named by it or by its payment intent, in full or in part."""
        self._check(params, _allowed(stripe_params.RefundCreateParams))
        if "charge" in params and "payment_intent" in params:
            raise _invalid(
                "payment_intent",
                "You may only specify one of these parameters: charge, payment_intent.",
            )
        if "payment_intent" in params:
            intent = self._get("payment_intent", params["payment_intent"], "payment_intent")
            if not intent["latest_charge"]:
                raise _invalid(
                    "payment_intent",
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge "
                    "to refund.",
                )
            charge = self._objects[intent["latest_charge"]]
        elif "charge" in params:
            charge = self._get("charge", params["charge"], "charge")
        else:
            raise _required("charge")
        left = charge["amount_captured"] - charge["amount_refunded"]
        if left <= 0:
            raise StripeAPIError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _int(params.get("amount", left), "amount")
        if not 1 <= amount <= left:
            raise _invalid(
                "amount",
                f"Refund amount ({_money(amount, charge['currency'])}) is greater than "
                f"unrefunded amount on charge ({_money(left, charge['currency'])})",
            )
        reasons = ("duplicate", "fraudulent", "requested_by_customer")
        if params.get("reason") is not None and params["reason"] not in reasons:
            raise _invalid("reason", f"Invalid reason: must be one of {', '.join(reasons)}")
        refund = self._insert(
            {
                "id": _new_id("re"),
                "object": "refund",
                "amount": amount,
                "charge": charge["id"],
                "created": self._now(),
                "currency": charge["currency"],
                "metadata": _merge_metadata({}, params.get("metadata", {})),
                "payment_intent": charge["payment_intent"],
                "reason": params.get("reason"),
                "status": "succeeded",
                **_nulls(
                    "balance_transaction destination_details receipt_number "
                    "source_transfer_reversal transfer_reversal"
                ),
            }
        )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        self._event("refund.created", refund)
        self._event("charge.refunded", charge)
        return self._answer(refund, params)

    def _api_list_refunds(self, params: Json) -> Json:
        refunds = self._of("refund")
        for field in ("charge", "payment_intent"):
            if field in params:
                refunds = [r for r in refunds if r[field] == params[field]]
        return self._paginate(
            "/v1/refunds",
            refunds,
            params,
            allowed=_allowed(stripe_params.RefundListParams),
            filters=frozenset({"charge", "payment_intent"}),
        )

    def _api_list_events(self, params: Json) -> Json:
        events = self._of("event")
        if "type" in params:
            wanted = params["type"]
            pattern = re.compile("^" + re.escape(wanted).replace(r"\*", "[^.]+") + "$")
            events = [e for e in events if pattern.match(e["type"])]
        if "types" in params:
            events = [e for e in events if e["type"] in params["types"]]
        return self._paginate(
            "/v1/events",
            events,
            params,
            allowed=_allowed(stripe_params.EventListParams),
            filters=frozenset({"type", "types"}),
        )

    # --- Pages a browser is sent to -------------------------------------------------

    def _page(self, method: str, path: str) -> tuple[int, dict[str, str], str]:
        parts = path.strip("/").split("/")
        if parts[0] == "checkout" and len(parts) in (2, 3):
            return self._checkout_page(method, parts[1], parts[2] if len(parts) == 3 else None)
        with self._lock:
            obj = self._objects.get(parts[-1]) if len(parts) == 2 else None
            if method == "GET" and obj is not None:
                if parts[0] == "portal" and obj["object"] == "billing_portal.session":
                    return (
                        HTTPStatus.OK,
                        {},
                        _html("Billing portal (fake)", obj["customer"], obj["return_url"]),
                    )
                if parts[0] == "i" and obj["object"] == "invoice":
                    amount = _money(obj["amount_due"], obj["currency"])
                    return (
                        HTTPStatus.OK,
                        {},
                        _html(
                            f"Invoice {obj['number']} (fake)", f"{amount}: {obj['status']}", None
                        ),
                    )
        return HTTPStatus.NOT_FOUND, {}, _html("Not found", path, None)

    def _checkout_page(
        self, method: str, session_id: str, action: str | None
    ) -> tuple[int, dict[str, str], str]:
        """Checkout's hosted page: GET shows it; POST `pay` or `cancel` is the member's click.

        Pay completes the session as `complete_checkout` does, sends the events to
        `webhook_url` (signed), then sends the browser to `success_url` with
        `{CHECKOUT_SESSION_ID}` filled in. Cancel goes back to `cancel_url` and
        leaves the session open, as Stripe's back link does.
        """
        title = "Stripe Checkout (fake)"
        with self._lock:
            session = self._objects.get(session_id)
            if session is None or session["object"] != "checkout.session":
                return HTTPStatus.NOT_FOUND, {}, _html("Not found", f"/checkout/{session_id}", None)
            if session["status"] != "open":
                return HTTPStatus.NOT_FOUND, {}, _html(title, "This session has ended.", None)
            if method == "GET" and action is None:
                return HTTPStatus.OK, {}, self._checkout_html(session)
            if method != "POST" or action not in ("pay", "cancel"):
                return HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "GET"}, _html(title, "", None)
            if action == "cancel":
                if not session["cancel_url"]:
                    return HTTPStatus.NOT_FOUND, {}, _html(title, "No way back was given.", None)
                return HTTPStatus.SEE_OTHER, {"Location": session["cancel_url"]}, ""
            events = self.complete_checkout(session_id)
            success_url = session["success_url"]
        # Outside the lock: the app, receiving the events, asks this fake about them.
        self.deliver(events)
        if not success_url:
            return HTTPStatus.OK, {}, _html(title, "Paid.", None)
        location = success_url.replace("{CHECKOUT_SESSION_ID}", session_id)
        return HTTPStatus.SEE_OTHER, {"Location": location}, ""

    def _checkout_html(self, session: Json) -> str:
        lines = []
        for item_id in self._children[session["id"]]:
            item = self._objects[item_id]
            recurring = self._objects[item["price"]]["recurring"]
            if recurring is None:
                every = "once"
            elif recurring["interval_count"] > 1:
                every = f"every {recurring['interval_count']} {recurring['interval']}s"
            else:
                every = f"a {recurring['interval']}"
            amount = _money(item["amount_total"], item["currency"])
            lines.append(f"<li>{html.escape(item['description'])}: {amount} {every}</li>")
        total = _money(session["amount_total"], session["currency"])
        base = f"/checkout/{session['id']}"
        cancel = (
            f'<form method="post" action="{base}/cancel">'
            '<button type="submit">Cancel</button></form>'
            if session["cancel_url"]
            else ""
        )
        return _document(
            "Stripe Checkout (fake)",
            f"<ul>{''.join(lines)}</ul><p>Total due today: <strong>{total}</strong></p>"
            f'<form method="post" action="{base}/pay"><button type="submit">Pay</button></form>'
            f"{cancel}",
        )


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No favicon request (and no 404 in the browser's console) for a stand-in.
        '<link rel="icon" href="data:,">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font:1rem/1.5 sans-serif;margin:1rem;max-width:30rem}"
        "button{min-height:44px;min-width:8rem;margin:0.5rem 0;font-size:1rem}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )


def _html(title: str, text: str, back: str | None) -> str:
    link = f'<p><a href="{html.escape(back)}">Back</a></p>' if back else ""
    return _document(title, f"<p>{html.escape(text)}</p>{link}")


# --- HTTP -----------------------------------------------------------------------------


def _handler_for(fake: FakeStripe) -> type[KeepAliveHandler]:
    class Handler(KeepAliveHandler):
        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            pairs = parse_qsl(url.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                pairs += parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, extra, body, content_type = fake.handle(method, url.path, headers, pairs)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def stripe_fake(settings: Any) -> Iterator[FakeStripe]:
    """A running fake Stripe, with the STRIPE_* settings and `stripe.api_base` pointing at it."""
    fake = FakeStripe()
    fake.start()
    settings.STRIPE_SECRET_KEY = fake.secret_key
    settings.STRIPE_PUBLISHABLE_KEY = fake.publishable_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_API_BASE = fake.base_url
    settings.STRIPE_LIVE_MODE = False
    api_base, telemetry = stripe.api_base, stripe.enable_telemetry
    stripe.api_base = fake.base_url
    stripe.enable_telemetry = False
    try:
        yield fake
    finally:
        stripe.api_base, stripe.enable_telemetry = api_base, telemetry
        fake.stop()
