"""A newcomer keeps his place: from a circle's "Ask to join" through sign-up and the
emailed verification link back to that circle's join page, where he introduces himself
and asks; his request is confirmed by email."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from circles import services
from circles.models import Circle, Membership
from tests.circles.conftest import make_circle, make_facilitator, make_verified
from tests.conftest import PASSWORD, give_authenticator, totp_code
from tests.e2e.conftest import Journey
from tests.e2e.test_facilitator import sign_in_at_the_admin

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

INTRODUCTION = "I moved here in the spring and I'd like a steady circle of men to talk with."


def test_a_newcomer_goes_from_ask_to_join_through_sign_up_and_back_to_the_join_page(
    journey: Journey,
) -> None:
    wanted = make_circle(
        name="Mission Tuesday Circle",
        slug="mission-tuesday",
        location_kind=Circle.LocationKind.ONLINE,
    )
    services.agreement_publish(circle=wanted, text="What is said here stays here.")
    fred = make_facilitator("fred@example.com", wanted)
    join_path = f"/circles/{wanted.slug}/join/"
    page = journey.page
    main = page.locator("main")

    journey.goto(wanted.get_absolute_url(), "circle page")
    main.get_by_role("button", name="Ask to join").click()
    # Not signed in: the sign-in page, holding the way back to the join page.
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=" + re.escape(join_path)))
    journey.check("sign in, with the way back")

    main.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/\?next=" + re.escape(join_path)))
    journey.check("sign-up form, with the way back")
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_label("Full name").fill("Sam Newman")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    journey.check("check your email")

    # A new browser tab, as when he opens the link from his mailbox.
    (email,) = [m for m in mail.outbox if m.to == ["sam@example.com"]]
    link = re.search(r"https?://\S+/accounts/verify/\S+/", email.body)[0]
    assert link.startswith(journey.site + "/"), link
    page.goto(link)
    journey.check("verify: asks for his password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Verify and sign in").click()

    # Back on the very join page he started from, signed in and verified.
    expect(page).to_have_url(journey.site + join_path)
    expect(page.get_by_role("heading", name="Ask to join Mission Tuesday Circle")).to_be_visible()
    expect(page.get_by_text("usually answers within 3 days")).to_be_visible()
    journey.check("back on the join page")
    assert User.objects.get(email="sam@example.com").is_verified

    page.get_by_label("A few words about yourself (optional)").fill(INTRODUCTION)
    page.get_by_label("I have read these agreements and will keep them.").check()
    main.get_by_role("button", name="Ask to join").click()
    expect(page).to_have_url(journey.site + wanted.get_absolute_url())
    expect(page.get_by_role("heading", name="Your request is sent")).to_be_visible()
    expect(main.get_by_text("usually answers within 3 days")).to_be_visible()
    expect(main.get_by_role("link", name="Withdraw my request")).to_be_visible()
    journey.check("request sent")

    membership = Membership.objects.get(user__email="sam@example.com", circle=wanted)
    assert membership.status == Membership.Status.REQUESTED
    assert membership.introduction == INTRODUCTION
    (confirmation,) = [
        m
        for m in mail.outbox
        if m.to == ["sam@example.com"] and m.subject.startswith("Your request to join")
    ]
    assert confirmation.subject == "Your request to join Mission Tuesday Circle is sent"
    assert "usually answers within 3 days" in confirmation.body
    # The facilitator hears of it; the introduction stays on the admin page, not in email.
    (to_fred,) = [m for m in mail.outbox if m.to == [fred.email]]
    assert INTRODUCTION not in to_fred.body


def test_his_facilitator_reads_the_introduction_and_approves_with_a_word(
    journey: Journey,
) -> None:
    circle = make_circle(name="Mission Tuesday Circle", slug="mission-tuesday")
    services.agreement_publish(circle=circle, text="What is said here stays here.")
    fred = make_facilitator("fred@example.com", circle)
    sam = make_verified("sam@example.com", full_name="Sam Newman")
    asked = services.membership_request(
        circle=circle, user=sam, agreement_version=1, introduction=INTRODUCTION
    )
    Membership.objects.filter(pk=asked.pk).update(requested_at=timezone.now() - timedelta(days=4))
    device = give_authenticator(fred)

    page = sign_in_at_the_admin(journey, fred)
    page.get_by_label("Code").fill(totp_code(device.key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))

    # From the at-risk page's "Waiting for an answer" to the request's own page.
    page.goto(journey.site + "/admin/circles/circle/at-risk/")
    journey.check("at risk: waiting for an answer")
    page.locator("ul.waiting").get_by_role("link", name="Sam Newman").click()
    expect(page).to_have_url(re.compile(rf"/admin/circles/membership/{asked.pk}/answer/$"))
    expect(page.get_by_text(INTRODUCTION)).to_be_visible()
    expect(page.get_by_text("waiting 4 days")).to_be_visible()
    journey.check("the join request")

    page.get_by_label("A word to him (optional)").fill("See you on Tuesday, Sam.")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved: Sam Newman is now a member")).to_be_visible()
    journey.check("approved")
    asked.refresh_from_db()
    assert asked.status == Membership.Status.ACTIVE
    (welcome,) = [m for m in mail.outbox if m.to == ["sam@example.com"] and "Welcome" in m.subject]
    assert "See you on Tuesday, Sam." in welcome.body
