"""Refresh tokens already on simplejwt's outstanding-token list are forgotten: their jti is all the list and
the blacklist need (accounts.auth.jwt), and a stored whole token could be redeemed by whoever reads the table."""

from django.db import migrations


def forget_stored_refresh_tokens(apps, schema_editor):
    no_token = ""  # nosec B105: nothing in place of a token
    apps.get_model("token_blacklist", "OutstandingToken").objects.exclude(token=no_token).update(token=no_token)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_access_review_durable_records"),
        ("token_blacklist", "0013_alter_blacklistedtoken_options_and_more"),
    ]

    operations = [migrations.RunPython(forget_stored_refresh_tokens, migrations.RunPython.noop)]
