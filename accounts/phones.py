"""Verified phone numbers: a number gets texts only after its owner types back a code.

**The code rests nowhere.** Asking for a code makes a `PhoneChallenge` row in
`creds` (a random id, the number, a keyed hash of the code, the expiry, the
tries) and queues a `phone_code` text whose subject_key names the challenge.
The code is `code_for(challenge id, number)`: an HMAC under SECRET_KEY, cut
to six digits. The request computes it once, to store its hash; delivery
computes it again from the queued row (its subject_key, the member's number)
and puts it only into the text handed to the vendor. So the log in `default`
holds a placeholder, `creds` holds a hash keyed with SECRET_KEY (which is in
no database), and a dump of both databases yields no code.

**One account per verified number** (a partial unique index on the user's
phone). When a man proves a number another account had verified, the newer
proof wins: possession of the phone now is the best evidence of whose it is.
The other account loses the verification (its texts stop, its YES/NO no
longer counts) and is told by email; its owner can prove the number again.

Ten minutes, five tries per code, and asking is limited (per account, per
number, hourly and daily, and per client network) by accounts.throttle: each
text costs money and lands on somebody's phone. No code goes to a premium-rate
or shared-cost number.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from functools import cache
from typing import Any
from uuid import UUID, uuid4

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from phonenumbers.tzdata import TIMEZONE_DATA

from accounts import throttle
from accounts.models import PhoneChallenge, User
from accounts.services import AccountError
from mensc.routers import CREDS_DB
from notifications import sms
from notifications.services import notify, opted_out_numbers
from notifications.transport import TransportError

CODE_DIGITS = 6
CODE_MINUTES = 10
MAX_TRIES = 5
SUBJECT_PREFIX = "phone-code:"

SENDS_PER_ACCOUNT = throttle.Limit("phone-code-account", 3, 15 * 60)
SENDS_PER_NUMBER = throttle.Limit("phone-code-number", 5, 60 * 60)
SENDS_PER_NUMBER_DAILY = throttle.Limit("phone-code-number-day", 10, 24 * 60 * 60)
SENDS_PER_CLIENT = throttle.Limit("phone-code-client", 10, 60 * 60)

PHONE_NONE = "Add your mobile number to your settings first."
TEXTS_OFF = "This site does not send text messages."
PHONE_NEEDS_EMAIL = "Verify your email address first: then we can text your number a code."
PHONE_ALREADY = "Your mobile number is already verified."
PHONE_OPTED_OUT = (
    "This number replied STOP to our texts, so we cannot text it a code. Text START to us "
    "from it, then ask again."
)
PHONE_NOT_TEXTABLE = (
    "We cannot text a premium-rate or shared-cost number. Please use your mobile number."
)
PHONE_THROTTLED = "Too many codes asked for. Please try again in {minutes}."
PHONE_BUSY = "A code is already on its way."
PHONE_CHANGED = "Your number changed meanwhile. Ask for a new code below."
PHONE_NO_CODE = "No code is waiting for this number. Ask for one below."
PHONE_CODE_EXPIRED = "This code has expired. Ask for a new one below."
PHONE_CODE_USED_UP = "Too many wrong tries for this code. Ask for a new one below."
PHONE_CODE_WRONG = "That is not the code we sent. Tries left with this code: {left}."
PHONE_CODE_SENT = "We texted a code to {phone}. Type it here within 10 minutes."
PHONE_VERIFIED = "Your mobile number is verified: texts you turn on go to it."


def _minutes(n: int) -> str:
    return f"{n} minute" if n == 1 else f"{n} minutes"


# --- The code ---------------------------------------------------------------------------


def code_for(challenge_id: UUID | str, phone: str) -> str:
    """The challenge's code: the same every time it is asked, known to no database."""
    digest = salted_hmac(
        "accounts.phones.code", f"{challenge_id}|{phone}", algorithm="sha256"
    ).digest()
    # 64 bits reduced to a million values: a bias far below one in a billion.
    return str(int.from_bytes(digest[:8], "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def _code_hash(challenge_id: UUID | str, code: str) -> str:
    # Keyed, so a copy of `creds` alone cannot try the million codes against it.
    return salted_hmac(
        "accounts.phones.code-hash", f"{challenge_id}|{code}", algorithm="sha256"
    ).hexdigest()


def code_for_message(row: Any) -> str:
    """Mint the code of a queued `phone_code` text (its subject_key names the challenge)."""
    raw = row.subject_key.removeprefix(SUBJECT_PREFIX)
    try:
        challenge_id = UUID(raw)
    except ValueError:
        raise TransportError("not a phone code message", permanent=True) from None
    return code_for(challenge_id, row.user.phone)


# --- Reading and showing numbers ----------------------------------------------------------

PHONE_INVALID = (
    "Enter your mobile number as you would dial it, for example (415) 555-0123, "
    "or with a plus and the country code, for example +44 7911 123456."
)


def _calling_code(prefix: str) -> int | None:
    # Calling codes are prefix-free: the first 1 to 3 digits that are one name the country.
    for size in (1, 2, 3):
        if phonenumbers.region_code_for_country_code(int(prefix[:size])) != "ZZ":
            return int(prefix[:size])
    return None


@cache
def _zone_regions() -> dict[str, str]:
    """Time zone → the country whose numbers its people most likely have (phonenumbers' table).

    The table lists, per number prefix, the zones it rings in. A zone can be
    under two countries (America/New_York under +1 and +52): the country with
    clearly more prefixes in it wins; a tie (Europe/Paris under +33 and +213)
    gives no hint, and the site's default region counts.
    """
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for prefix, zones in TIMEZONE_DATA.items():
        code = _calling_code(prefix) if prefix.isdigit() else None
        if code is not None:
            for zone in zones:
                counts[zone][code] += 1
    regions = {}
    for zone, codes in counts.items():
        (best, most), *others = codes.most_common(2)
        if not others or others[0][1] < most:
            regions[zone] = phonenumbers.region_code_for_country_code(best)
    return regions


def regions_for(time_zone: str | None) -> list[str]:
    """Where a number typed without a country code is read: his zone's country, then the site's."""
    hinted = _zone_regions().get(time_zone or "")
    return [region for region in (hinted, settings.PHONE_DEFAULT_REGION) if region]


def phone_parse(raw: str, *, time_zone: str | None = None) -> str:
    """A mobile number as a man types it, in E.164 ("+14155550123"); ValueError if it is none.

    National formats are read for his region (regions_for). Letters are refused,
    though phonenumbers would read 1-800-FLOWERS: a mobile number has none, and
    a letter is more likely a slip (O for 0) than a word. Digits of other
    scripts (full-width digits, Arabic-Indic digits) are read as the digits they are.
    """
    raw = raw.strip()
    if not raw or any(char.isalpha() for char in raw):
        raise ValueError(PHONE_INVALID)
    for region in regions_for(time_zone):
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) and not number.extension:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise ValueError(PHONE_INVALID)


def phone_display(phone: str, *, time_zone: str | None = None) -> str:
    """A stored number as he would write it: "(415) 555-0123" at home, "+44 7700 900123" abroad."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    home = phonenumbers.country_code_for_region(regions_for(time_zone)[0])
    if number.country_code == home:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# --- Reads --------------------------------------------------------------------------------


def pending_challenge(*, user: User) -> PhoneChallenge | None:
    """The code waiting for the member's current number, if one can still be typed."""
    if not user.phone or user.verified_phone:
        return None
    return PhoneChallenge.objects.filter(
        user_id=user.pk,
        phone=user.phone,
        expires_at__gt=timezone.now(),
        tries__lt=MAX_TRIES,
    ).first()


# --- Writes -------------------------------------------------------------------------------


def _textable(phone: str) -> bool:
    # Texts to premium-rate and shared-cost numbers earn their owner money: the
    # classic way to make a site pay for "verification" texts (SMS pumping).
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return False
    return kind not in {
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
    }


def phone_code_send(*, user: User, client: str) -> PhoneChallenge:
    """Text a new code to the member's number; the one he had before stops working.

    `client` is who asks, as throttle.client_network() counts him.
    """
    if not sms.is_available():
        raise AccountError(TEXTS_OFF)
    if not user.phone:
        raise AccountError(PHONE_NONE)
    if not user.is_verified:
        raise AccountError(PHONE_NEEDS_EMAIL)
    if user.verified_phone:
        raise AccountError(PHONE_ALREADY)
    if opted_out_numbers([user.phone]):
        raise AccountError(PHONE_OPTED_OUT)
    if not _textable(user.phone):
        raise AccountError(PHONE_NOT_TEXTABLE)
    for limit, subject in (
        (SENDS_PER_ACCOUNT, str(user.pk)),
        (SENDS_PER_NUMBER, user.phone),
        (SENDS_PER_NUMBER_DAILY, user.phone),
        (SENDS_PER_CLIENT, client),
    ):
        decision = throttle.hit(limit, subject)
        if not decision.allowed:
            raise AccountError(PHONE_THROTTLED.format(minutes=_minutes(decision.minutes)))
    challenge_id, now = uuid4(), timezone.now()
    try:
        with transaction.atomic(using=CREDS_DB):
            PhoneChallenge.objects.filter(user_id=user.pk).delete()
            challenge = PhoneChallenge.objects.create(
                id=challenge_id,
                user_id=user.pk,
                phone=user.phone,
                code_hash=_code_hash(challenge_id, code_for(challenge_id, user.phone)),
                created_at=now,
                expires_at=now + timedelta(minutes=CODE_MINUTES),
            )
    except IntegrityError:  # another request for him made one at the same moment
        raise AccountError(PHONE_BUSY) from None
    notify(
        user=user,
        kind="phone_code",
        subject_key=f"{SUBJECT_PREFIX}{challenge_id}",
        channels=["sms"],
    )
    return challenge


def phone_verify(*, user: User, code: str) -> None:
    """Check a typed code; the right one verifies the member's number.

    Every try is counted before it is checked, with one conditional UPDATE, so
    parallel guesses get MAX_TRIES checks in all, never more.
    """
    now = timezone.now()
    challenge = PhoneChallenge.objects.filter(user_id=user.pk).first()
    if challenge is None or not user.phone or challenge.phone != user.phone:
        raise AccountError(PHONE_NO_CODE)
    if challenge.expires_at <= now:
        raise AccountError(PHONE_CODE_EXPIRED)
    live = PhoneChallenge.objects.filter(pk=challenge.pk, tries__lt=MAX_TRIES, expires_at__gt=now)
    if not live.update(tries=F("tries") + 1):
        tries = PhoneChallenge.objects.filter(pk=challenge.pk).values_list("tries", flat=True)
        if not tries:
            raise AccountError(PHONE_NO_CODE)
        raise AccountError(PHONE_CODE_USED_UP if tries[0] >= MAX_TRIES else PHONE_CODE_EXPIRED)
    if not constant_time_compare(_code_hash(challenge.pk, code), challenge.code_hash):
        tries = PhoneChallenge.objects.filter(pk=challenge.pk).values_list("tries", flat=True)
        left = max(MAX_TRIES - (tries[0] if tries else MAX_TRIES), 0)
        raise AccountError(PHONE_CODE_WRONG.format(left=left) if left else PHONE_CODE_USED_UP)
    # Spent: of two requests with the right code at once, one goes on.
    spent, _ = PhoneChallenge.objects.filter(pk=challenge.pk).delete()
    if not spent:
        raise AccountError(PHONE_NO_CODE)
    _phone_claim(user=user, phone=challenge.phone, at=now)
    user.refresh_from_db(fields=["phone", "phone_verified_at"])
    if user.verified_phone != challenge.phone:
        raise AccountError(PHONE_CHANGED)


def _phone_claim(*, user: User, phone: str, at: Any) -> None:
    """Make `phone` the member's verified number; an account that had verified it loses it."""
    try:
        with transaction.atomic():
            # Every account with this number, locked in one order: two accounts
            # proving it at once go one after the other, and the later one wins.
            holders = list(User.objects.select_for_update().filter(phone=phone).order_by("pk"))
            if user.pk not in {holder.pk for holder in holders}:
                return  # he changed his number meanwhile: nothing to verify
            losers = [h for h in holders if h.pk != user.pk and h.phone_verified_at is not None]
            User.objects.filter(pk__in=[h.pk for h in losers]).update(phone_verified_at=None)
            User.objects.filter(pk=user.pk).update(phone_verified_at=at)
            for loser in losers:
                notify(
                    user=loser,
                    kind="phone_taken",
                    subject_key=f"phone-taken:{uuid4().hex}",
                    context={"ending": phone[-2:]},
                )
    except IntegrityError:  # never expected with the lock; a clear answer all the same
        raise AccountError(PHONE_CHANGED) from None
