"""The API key format: ``sk_live_`` or ``sk_test_``, 43 base62 characters holding 32 random bytes, then
6 base62 characters holding the CRC32 of those 43 (as GitHub's token format does). A scanner can
recognise a real key offline with KEY_PATTERN and the checksum; the server refuses a mistyped or
invented key before touching the database."""

import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass

from core.ids import BASE62

RANDOM_CHARS = 43  # 62**43 > 2**256: room for 32 random bytes
CHECKSUM_CHARS = 6  # 62**6 > 2**32: room for a CRC32
LOOKUP_CHARS = 8  # random characters kept in the stored, indexed lookup prefix
KEY_PATTERN = r"sk_(?:live|test)_[0-9A-Za-z]{49}"
_KEY_RE = re.compile(rf"sk_(live|test)_([0-9A-Za-z]{{{RANDOM_CHARS}}})([0-9A-Za-z]{{{CHECKSUM_CHARS}}})")
_KEY_ANYWHERE_RE = re.compile(r"sk_(?:live|test)_[0-9A-Za-z]{16,}")


def _base62(number: int, width: int) -> str:
    chars = []
    while number:
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(reversed(chars)).rjust(width, BASE62[0])


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_CHARS)


@dataclass(frozen=True)
class ParsedKey:
    livemode: bool
    prefix: str  # what the database is searched by
    last4: str
    digest: str  # SHA-256 of the whole key, hex


def digest_of(key: str) -> str:
    # One SHA-256, no password hasher: the key has 256 bits of entropy, so a slow hash adds nothing
    # but latency on every request.
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def generate(livemode: bool) -> str:
    random_part = _base62(int.from_bytes(secrets.token_bytes(32), "big"), RANDOM_CHARS)
    return f"sk_{'live' if livemode else 'test'}_{random_part}{_checksum(random_part)}"


def parse(key: str) -> ParsedKey | None:
    """The key's parts if it has the right shape and checksum, else None. Touches no database."""
    match = _KEY_RE.fullmatch(key)
    if match is None or _checksum(match.group(2)) != match.group(3):
        return None
    mode, random_part = match.group(1), match.group(2)
    return ParsedKey(
        livemode=mode == "live",
        prefix=f"sk_{mode}_{random_part[:LOOKUP_CHARS]}",
        last4=key[-4:],
        digest=digest_of(key),
    )


def looks_like_key(text: str) -> bool:
    return bool(_KEY_ANYWHERE_RE.search(text))
