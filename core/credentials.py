"""What a credential looks like in a header or query parameter name, in a value, and in a URL. Settings
stored in clear and shown to their readers (a connector's ``config``, a webhook endpoint's ``url``)
refuse them."""

import re
from urllib.parse import unquote, unquote_plus, urlsplit

# Names are compared lower-cased with '-', '_' and spaces removed, so case and separator variants
# (X_API_KEY, xApiKey, Proxy-Authorization) match.
CREDENTIAL_NAME_WORDS = (
    "authorization", "authorisation", "authentication", "cookie", "token", "secret", "password", "passwd",
    "passphrase", "passcode", "passkey", "credential", "creds", "apikey", "accesskey", "privatekey", "session",
    "signature", "oauth",
)
# Whole words, split at separators, camelCase humps and digits (X-AuthKey, X-Auth2): short enough to sit
# inside ordinary names (keyword, author, passenger, compat).
CREDENTIAL_NAME_SEGMENTS = {"key", "keys", "auth", "authn", "pass", "pwd", "pw", "jwt", "bearer", "sid", "sig", "pat"}
# A name run together that ends so (X-Appkey, X-Masterkey, X-Userpass) names a credential too.
CREDENTIAL_NAME_ENDINGS = ("key", "keys", "token", "tokens", "pass")
# Ordinary names the rules above would take (whole names, compacted): an idempotency key is a request's id,
# a page token a cursor, max_tokens a count; the rest are words and database terms.
ORDINARY_NAMES = {"idempotencykey", "xidempotencykey", "pagetoken", "nextpagetoken", "maxtokens", "inputtokens",
                  "outputtokens", "tokenizer", "sortkey", "primarykey", "partitionkey", "monkey", "turkey", "hotkey",
                  "hotkeys", "compass", "bypass"}

# A value in an authentication scheme's form (RFC 9110 11.4, also written "Bearer:x" or "Token: x"), a JWT,
# this platform's own secrets, or a well-known vendor's token is a credential whatever its name.
CREDENTIAL_VALUE = re.compile(
    r"^\s*(?i:bearer|basic|digest|negotiate|ntlm|token|apikey)(?:\s+|\s*[:=]\s*)\S{8,}"
    r"|\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\."
    r"|\b(?:sk_live_|sk_test_|whsec_|oat_|ort_)[0-9A-Za-z]{16,}"
    # GitHub, Slack, AWS access key ids, GitLab, Stripe restricted keys, Google API keys, npm, Shopify,
    # Hugging Face, SendGrid, OpenAI and Anthropic.
    r"|\b(?:gh[pousr]_[0-9A-Za-z]{20,}|github_pat_\w{20,}|xox[abposr]-[0-9A-Za-z-]{10,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}|glpat-[\w-]{20,}|rk_(?:live|test)_[0-9A-Za-z]{16,}|AIza[\w-]{35}"
    r"|npm_[0-9A-Za-z]{36}|shp(?:at|ss|ca|pa)_[0-9a-fA-F]{32}|hf_[0-9A-Za-z]{30,}|SG\.[\w-]{16,}\.[\w-]{16,}"
    r"|sk-(?:proj-|ant-)?[\w-]{32,})"
)


def _segments(name):
    """The words of a name: split at separators, digits and camelCase humps (XApiKey: x, api, key)."""
    return {word.lower() for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", name)}


def is_credential_name(name):
    """Whether a header or query parameter of this name carries a credential (Authorization, Cookie,
    X-Api-Key, X-AppKey, *-Token, api_key, access_token...)."""
    compact = re.sub(r"[-_\s]", "", name.strip().lower())
    if compact in ORDINARY_NAMES:
        return False
    return (any(word in compact for word in CREDENTIAL_NAME_WORDS) or compact.endswith(CREDENTIAL_NAME_ENDINGS)
            or bool(_segments(name) & CREDENTIAL_NAME_SEGMENTS))


def looks_like_credential(value):
    return bool(CREDENTIAL_VALUE.search(str(value)))


def credential_in_url(url):
    """What in ``url`` carries a credential, said without repeating it, or None: a user name or password,
    a parameter (query, fragment, or ``;name=`` in the path) named like a credential, or anything shaped
    like a key or token."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return "a user name or password"
    # Split at '&' and ';' (parse_qsl takes '&' only, but many servers take ';' as well).
    names = [unquote_plus(piece.partition("=")[0])
             for text in (parts.query, parts.fragment) for piece in re.split(r"[&;]", text) if piece]
    for name in names + [unquote(name) for name in re.findall(r";([^=;/]+)=", parts.path)]:
        if is_credential_name(name):
            return f"the parameter {name!r}"
    if looks_like_credential(unquote(url)):
        return "a key or token"
    return None
