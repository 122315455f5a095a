"""A member pays his dues: a tier on the Dues page, Stripe's hosted page (the fake's), back.

The fake Stripe sends the events of the payment to the live server's webhook,
signed, as Stripe would, so what the member sees afterwards is what dj-stripe
made of them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from djstripe.models import Invoice, Subscription
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from billing.models import DuesTier
from billing.selectors import NOT_PAYING, dues_status
from billing.templatetags.money import money
from tests.circles.conftest import join, make_circle
from tests.conftest import PASSWORD
from tests.e2e.conftest import Journey
from tests.fakes import stripe as stripe_module
from tests.fakes.stripe import FakeStripe

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

stripe_fake = stripe_module.stripe_fake

TAP_TARGET = 44  # px, the least a thumb can hit reliably
# What a finger can press on our pages' content (the header has its own menu).
CONTROLS = (
    "main a, main button, main [role=button], main summary, "
    "main input:not([type=hidden]), main select, main textarea"
)


@dataclass
class Dues:
    member: User
    tiers: dict[str, DuesTier]
    stripe: FakeStripe


@pytest.fixture
def dues(stripe_fake: FakeStripe, site: str, member: User, settings) -> Dues:
    """Bob, an active member of a circle, and a sliding scale of three tiers."""
    # The fake stands where https://checkout.stripe.com stands in the policy: the
    # browser may follow the tier form's redirect to it, as it would to Stripe.
    policy = settings.CONTENT_SECURITY_POLICY
    assert "form-action 'self' https://checkout.stripe.com" in policy
    settings.CONTENT_SECURITY_POLICY = policy.replace(
        "form-action 'self'", f"form-action 'self' {stripe_fake.base_url}"
    )
    join(member, make_circle(name="Mission Tuesday Circle"))
    stripe_fake.webhook_url = f"{site}/stripe/webhook/"
    tiers = {}
    for order, (name, cents, description) in enumerate(
        [
            ("Low income", 500, "If money is tight this year."),
            ("Standard", 1500, "What a seat costs the circle."),
            ("Sponsor", 4000, "Covers your dues and another man's."),
        ]
    ):
        price = stripe_fake.add_price(cents, nickname=name, product_name=f"{name} dues")
        tiers[name] = DuesTier.objects.create(
            name=name,
            description=description,
            amount_cents=cents,
            stripe_price_id=price["id"],
            order=order,
        )
    return Dues(member=member, tiers=tiers, stripe=stripe_fake)


def small_tap_targets(page: Page) -> list[str]:
    """The visible controls of the page's content smaller than a fingertip."""
    return page.evaluate(
        """([selector, least]) => [...document.querySelectorAll(selector)]
            .filter((el) => el.getClientRects().length > 0)
            .map((el) => [el, el.getBoundingClientRect()])
            .filter(([el, box]) => box.width < least || box.height < least)
            .map(([el, box]) => `${el.tagName.toLowerCase()} "${(el.innerText || el.name || "")
                .trim().slice(0, 40)}" ${Math.round(box.width)}x${Math.round(box.height)}`)""",
        [CONTROLS, TAP_TARGET],
    )


def overflowing_main(page: Page) -> list[str]:
    """Elements of the content reaching past its right edge (hidden by nothing, but cut off)."""
    return page.evaluate(
        """() => {
            const main = document.querySelector("main");
            const edge = main.getBoundingClientRect().right
                - parseFloat(getComputedStyle(main).paddingRight);
            return [...main.querySelectorAll("*")]
                .filter((el) => el.getBoundingClientRect().right > edge + 0.5)
                .map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
        }"""
    )


def check(journey: Journey, step: str) -> None:
    """Journey.check(), and on a phone every control of a dues page big enough for a thumb."""
    journey.check(step)
    assert overflowing_main(journey.page) == [], f"{step}: cut off at the right"
    if journey.screen.startswith("phone"):
        assert small_tap_targets(journey.page) == [], f"{step}: tap targets under 44 px"


def sign_in_to_dues(journey: Journey, member: User) -> Page:
    # The sign-in page's inline text links are exempt from the tap-target rule.
    page = journey.goto("/accounts/login/?next=/billing/", "sign in")
    page.locator("#id_username").fill(member.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/billing/$"))
    check(journey, "dues page, nothing paid")
    expect(page.locator(".dues-status")).to_have_text(NOT_PAYING)
    return page


def to_hosted_checkout(journey: Journey, dues: Dues, tier: str) -> str:
    """Choose a tier; the browser lands on the fake's Checkout page (not ours: no check).

    Returns the Checkout Session's id.
    """
    page = journey.page
    cents = dues.tiers[tier].amount_cents
    page.get_by_role("button", name=f"Pay {money(cents)} a month").click()
    page.wait_for_url(f"{dues.stripe.base_url}/checkout/*")
    expect(page.get_by_role("heading", name="Stripe Checkout (fake)")).to_be_visible()
    slug = re.sub(r"[^a-z0-9]+", "-", tier.lower())
    page.screenshot(path=str(journey.folder / f"stripe-checkout-{slug}.png"))
    return page.url.rsplit("/", 1)[1]


def test_a_member_pays_his_dues_on_the_hosted_page_and_sees_them_active(
    journey: Journey, dues: Dues
) -> None:
    page = sign_in_to_dues(journey, dues.member)
    tier = dues.tiers["Standard"]

    to_hosted_checkout(journey, dues, "Standard")
    expect(page.get_by_text("Total due today: $15.00")).to_be_visible()
    page.get_by_role("button", name="Pay", exact=True).click()

    page.wait_for_url(f"{journey.site}/billing/success/")
    expect(page.get_by_role("status")).to_have_text("Your dues are active.")
    check(journey, "thank you")
    page.get_by_role("button", name="See your dues").click()
    page.wait_for_url(re.compile(r"/billing/$"))
    check(journey, "dues page, active")
    expect(page.locator(".dues-status")).to_have_text("Your dues are active.")
    expect(page.get_by_role("button", name=re.compile("^Pay "))).to_have_count(0)
    history = page.locator(".dues-history tbody tr")
    expect(history).to_have_count(1)
    expect(history).to_contain_text("$15")
    expect(history).to_contain_text("paid")
    invoice_link = history.get_by_role("link", name=re.compile("^Invoice of "))
    expect(invoice_link).to_have_attribute("href", re.compile(f"^{dues.stripe.base_url}/i/in_"))

    # Every event reached the app, signed with our secret, and was kept.
    assert [(d["type"], d["status"]) for d in dues.stripe.deliveries] == [
        ("checkout.session.completed", 200),
        ("customer.subscription.created", 200),
        ("invoice.paid", 200),
    ]
    subscription = Subscription.objects.get(customer__subscriber=dues.member)
    assert subscription.status == "active"
    assert subscription.stripe_data["items"]["data"][0]["price"]["id"] == tier.stripe_price_id
    invoice = Invoice.objects.get(customer__subscriber=dues.member)
    assert (invoice.status, invoice.stripe_data["amount_paid"]) == ("paid", 1500)
    assert dues_status(dues.member).word == "active"


def test_cancel_on_the_hosted_page_brings_him_back_with_nothing_charged(
    journey: Journey, dues: Dues
) -> None:
    page = sign_in_to_dues(journey, dues.member)

    session_id = to_hosted_checkout(journey, dues, "Low income")
    expect(page.get_by_text("Total due today: $5.00")).to_be_visible()
    page.get_by_role("button", name="Cancel", exact=True).click()

    page.wait_for_url(f"{journey.site}/billing/?checkout=cancelled")
    expect(page.get_by_role("status").first).to_contain_text(
        "You left the payment page before paying: nothing was charged."
    )
    check(journey, "back from checkout, cancelled")
    expect(page.locator(".dues-status")).to_have_text(NOT_PAYING)
    expect(page.get_by_role("button", name="Pay $5 a month")).to_be_visible()

    assert dues.stripe.get(session_id)["status"] == "open"  # he may still come back to it
    assert dues.stripe.events_of("checkout.session.completed") == []
    assert dues.stripe.events_of("invoice.paid") == []
    assert dues.stripe.deliveries == []
    assert not Subscription.objects.filter(customer__subscriber=dues.member).exists()
    assert not Invoice.objects.exists()
    assert dues_status(dues.member).word == "none"


# --- The smallest phone -------------------------------------------------------------


@pytest.fixture
def small_phone(request: pytest.FixtureRequest, browser: Browser, site: str) -> Iterator[Journey]:
    """A journey on a 360 px phone, the narrowest screen the site is made for."""
    context = browser.new_context(
        base_url=site,
        viewport={"width": 360, "height": 740},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    name = re.sub(r"\[.*\]$", "", request.node.name).removeprefix("test_")
    yield Journey(page=context.new_page(), site=site, name=name, screen="phone-360")
    context.close()


def test_every_dues_page_fits_a_360_px_phone(small_phone: Journey, dues: Dues) -> None:
    journey = small_phone
    page = sign_in_to_dues(journey, dues.member)

    # The tiers stack in one column, each as wide as the others, each amount in sight.
    boxes = [page.locator(".dues-tiers > li").nth(i).bounding_box() for i in range(len(dues.tiers))]
    assert len({round(box["x"]) for box in boxes}) == 1
    assert len({round(box["width"]) for box in boxes}) == 1
    assert all(a["y"] + a["height"] <= b["y"] for a, b in itertools.pairwise(boxes))
    for tier in dues.tiers.values():
        expect(page.locator(".dues-tiers")).to_contain_text(money(tier.amount_cents))

    journey.goto("/billing/success/")
    expect(page.get_by_role("status")).to_contain_text("Your payment is processing")
    check(journey, "thank you, still processing")

    journey.goto("/billing/")
    to_hosted_checkout(journey, dues, "Sponsor")
    page.get_by_role("button", name="Cancel", exact=True).click()
    page.wait_for_url(re.compile(r"\?checkout=cancelled$"))
    check(journey, "back from checkout, cancelled")

    to_hosted_checkout(journey, dues, "Sponsor")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_url(re.compile(r"/billing/success/$"))
    check(journey, "thank you")
    journey.goto("/billing/")
    check(journey, "dues page, active, with history")
    expect(page.locator(".dues-history")).to_contain_text("$40")

    page.get_by_label("I ask for").select_option(label="Reduced dues")
    page.get_by_label("Why (only treasurers read this)").fill("Work is slow this winter.")
    page.get_by_role("button", name="Ask a treasurer").click()
    expect(page.get_by_role("status").first).to_contain_text("A treasurer will answer you")
    check(journey, "scholarship asked")
    assert dues.member.scholarships.get().kind == "reduced"
