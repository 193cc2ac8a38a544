"""Settings for `make bench`: the production settings, plus one unauthenticated baseline route."""

from config.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.urls"
