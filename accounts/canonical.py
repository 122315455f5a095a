"""The one form of an email address that every account look-up compares.

Two addresses with the same key are the same account. `User.email` keeps the
address as the member typed it (we write to it and show it); `User.email_key`
holds its key, unique, and every "who is this?" question (sign-in page,
admin, API tokens, password reset, Google, the operator commands) asks it.

Why not Django's `normalize_email` or django-allauth's lower-casing: the
first lower-cases only the domain; the second lower-cases the whole address.
Neither folds what PostgreSQL's `UPPER()` (behind `iexact`) or Python's own
case-insensitive regex treat as the same letter: Django's email validator
matches `[A-Z]` case-insensitively, which in Python also accepts the dotless
`ı`, `İ`, the long `ſ` and the Kelvin sign `K`, and `UPPER('tım')` is `TIM`.
So `tım.victim@…` passed validation and `LOWER()` uniqueness beside
`tim.victim@…`, and every `iexact` look-up then found two accounts.

The key, step by step:

1. NFKC: fullwidth letters, the Kelvin sign, ligatures and composed versus
   combining accents each become one spelling (`é` is `é`).
2. casefold: full case folding (`ß` is `ss`, `ſ` is `s`, final `ς` is `σ`).
3. upper, then lower: folds what a database's `UPPER()` maps onto an ASCII
   letter but casefold leaves apart (`ı` becomes `I`, then `i`). The key is a
   function of the upper-cased text, so two addresses with the same `UPPER()`
   get the same key (a test checks every code point against PostgreSQL).
4. NFKC again, and a dot above after `i`/`j` dropped: `İ` lower-cases to
   `i` + U+0307, which reads as `i`.
5. The domain in its ASCII (IDNA) form: `bücher.de` and `xn--bcher-kva.de`
   are one domain.

Not folded, on purpose: dots and `+tags` (a Gmail habit, not a rule of
email) and accents (`josé` and `jose` are different people).

A key holds no ASCII capital letter (lower-casing removes them), so a key
that starts with `RETIRED:` (an address given up in a clash, see the
migration that introduced keys) can never be what a look-up asks for.
"""

# ruff: noqa: RUF002  (the look-alike letters are the point of this module)

from __future__ import annotations

import unicodedata

RETIRED_PREFIX = "RETIRED:"
# An address is at most 254 characters; its key can grow only in the domain
# (IDNA), and a DNS name is at most 253 characters.
KEY_MAX_LENGTH = 512


def email_key(address: str) -> str:
    """The canonical key of an email address (see the module docstring)."""
    text = unicodedata.normalize("NFKC", address).strip()
    text = text.casefold().upper().lower()
    text = unicodedata.normalize("NFKC", text).strip()
    text = text.replace("i\u0307", "i").replace("j\u0307", "j")
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:  # not a domain name: compare it as it is
        ascii_domain = domain
    if len(ascii_domain) <= 253:
        domain = ascii_domain
    return f"{local}@{domain}"


def retired_key(user_id: int, key: str) -> str:
    """The key of an account that gave its address up: unique, and never looked up."""
    return f"{RETIRED_PREFIX}{user_id}:{key}"
