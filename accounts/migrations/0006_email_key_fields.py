"""Room for the canonical email key (filled by 0005, made unique by 0006).

Also: `from_sign_up` (a password chosen at the public sign-up signs in only
once the address is verified) and `sign_up_next` (where the verification
link brings a newcomer back to).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_verified_phones"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_key",
            field=models.CharField(editable=False, max_length=512, null=True),
        ),
        migrations.AddField(
            model_name="user",
            name="from_sign_up",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Made by the public sign-up: its password signs in once the address "
                    "is verified."
                ),
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="sign_up_next",
            field=models.CharField(blank=True, editable=False, max_length=500),
        ),
    ]
