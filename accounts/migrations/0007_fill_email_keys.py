"""Give every account its canonical email key; settle accounts whose keys clash.

Before keys, uniqueness compared LOWER(email) while look-ups used UPPER
(`iexact`), so `tım.victim@…` (dotless ı) could be made beside
`tim.victim@…`, and from then on every sign-in of either answered 500. Such
accounts now share a key, and a key is one account. Nothing is merged:

- The account that keeps the address is, in order: a superuser, staff, a
  verified address, the older account (then the lower id).
- Every other account of that key is deactivated and keeps its address as it
  was, under a retired key that no look-up reaches (accounts.canonical). Its
  owner is told by email (queued here, sent by the next delivery sweep); the
  text is written out here, not rendered from a template, so this migration
  means the same thing however the templates change later.

Each clash is printed, so the operator sees what happened and can restore an
account in the admin by giving it an address of its own.

Sign-ups never verified are marked `from_sign_up`: their password signs in
only once the address is proven (a reset or the verification link). A
pre-account made with someone else's address thus stops working here.
"""

from collections import defaultdict

from django.db import migrations

from accounts.canonical import email_key, retired_key

NOTICE_SUBJECT = "Your Men's Circle account is closed: its address belongs to another account"
# The same words as templates/emails/email_retired_body.txt. The other
# account's address is not named: it is another member's.
NOTICE_BODY = """Hello,

Your Men's Circle account under {email} has been closed. Another account
uses an address that reads the same (the two differ only in look-alike letters
or in letter case), and one address can belong to one account only. That account
was made first or has a proven address, so it keeps it.

If this account was yours and you need it back, reply to this email and we will
give it an address of its own.
"""


def rank(user: dict) -> tuple:
    # The first of these keeps the address.
    return (
        not user["is_superuser"],
        not user["is_staff"],
        user["email_verified_at"] is None,
        user["date_joined"],
        user["pk"],
    )


def fill_email_keys(apps, schema_editor) -> None:
    alias = schema_editor.connection.alias
    User = apps.get_model("accounts", "User")
    Notification = apps.get_model("notifications", "Notification")
    users = User.objects.using(alias)
    fields = ("pk", "email", "is_superuser", "is_staff", "email_verified_at", "date_joined")
    by_key = defaultdict(list)
    for user in users.order_by("pk").values(*fields).iterator():
        by_key[email_key(user["email"])].append(user)
    for key, group in by_key.items():
        keeper, *others = sorted(group, key=rank)
        users.filter(pk=keeper["pk"]).update(email_key=key)
        for other in others:
            users.filter(pk=other["pk"]).update(
                email_key=retired_key(other["pk"], key), is_active=False
            )
            Notification.objects.using(alias).get_or_create(
                user_id=other["pk"],
                channel="email",
                kind="email_retired",
                subject_key="email-retired",
                defaults={
                    "subject": NOTICE_SUBJECT,
                    "body": NOTICE_BODY.format(email=other["email"]),
                },
            )
            print(
                f"\n  accounts: {other['email']!r} (account #{other['pk']}) clashes with "
                f"{keeper['email']!r} (account #{keeper['pk']}): #{other['pk']} is "
                f"deactivated and its owner told; #{keeper['pk']} keeps the address."
            )
    users.filter(email_verified_at__isnull=True, is_staff=False, is_superuser=False).update(
        from_sign_up=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_email_key_fields"),
        ("notifications", "0002_own_tables"),
    ]

    operations = [migrations.RunPython(fill_email_keys, migrations.RunPython.noop)]
