"""Sudo: a person re-confirms their password or a code before a sensitive change; the confirmation holds
for OPENPAAS_SUDO_SECONDS in this browser session. The account pages set it, they and the console read it."""

import time

from django.conf import settings

SUDO_AT = "openpaas_sudo_at"


def confirm_sudo(request):
    request.session[SUDO_AT] = time.time()


def sudo_is_fresh(request):
    return time.time() - request.session.get(SUDO_AT, 0) < settings.OPENPAAS_SUDO_SECONDS
