"""Certificate pinning: refuse a TLS server whose leaf certificate's public key is not pinned.

A pin is ``"sha256/" + base64(SHA-256(DER SubjectPublicKeyInfo))``, the form HPKP, OkHttp and curl's
``--pinnedpubkey`` use. Pinning the key rather than the certificate survives renewals that keep the key.

The check runs inside the TLS handshake of every new connection (the SSL context's socket class checks
the peer after the normal chain and host name verification), so a refused server never sees a request,
let alone the credential in it.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
from collections.abc import Iterable

import certifi

from openpaas_sdk.errors import ConfigurationError, PinningError

PIN_PREFIX = "sha256/"


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """One DER element at ``pos``: (tag, start of its value, end of the element)."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def spki_from_certificate(der: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of a DER X.509 certificate (RFC 5280 4.1)."""
    tag, cert_start, _ = _tlv(der, 0)  # Certificate ::= SEQUENCE
    if tag != 0x30:
        raise ValueError("not a certificate")
    tag, pos, tbs_end = _tlv(der, cert_start)  # tbsCertificate ::= SEQUENCE
    if tag != 0x30:
        raise ValueError("not a certificate")
    if der[pos] == 0xA0:  # [0] EXPLICIT version
        pos = _tlv(der, pos)[2]
    # serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo
    for _ in range(5):
        pos = _tlv(der, pos)[2]
    tag, _, end = _tlv(der, pos)
    if tag != 0x30 or end > tbs_end:
        raise ValueError("no subjectPublicKeyInfo")
    return der[pos:end]


def public_key_pin(der_certificate: bytes) -> str:
    """The pin of a DER certificate: ``sha256/<base64>``."""
    digest = hashlib.sha256(spki_from_certificate(der_certificate)).digest()
    return PIN_PREFIX + base64.b64encode(digest).decode()


def parse_pins(pins: Iterable[str]) -> frozenset[bytes]:
    """The SHA-256 digests named by ``pins``; a ConfigurationError for anything that is not a pin."""
    if isinstance(pins, str):
        raise ConfigurationError("pinned_public_keys is a list of pins, not one string.")
    digests = set()
    for pin in pins:
        if not isinstance(pin, str) or not pin.startswith(PIN_PREFIX):
            raise ConfigurationError(f"A pin looks like 'sha256/<base64 of 32 bytes>', not {pin!r}.")
        try:
            digest = base64.b64decode(pin[len(PIN_PREFIX):], validate=True)
        except ValueError:
            digest = b""
        if len(digest) != 32:
            raise ConfigurationError(f"A pin looks like 'sha256/<base64 of 32 bytes>', not {pin!r}.")
        digests.add(digest)
    if not digests:
        raise ConfigurationError("pinned_public_keys is empty: pass at least one pin, or None for no pinning.")
    return frozenset(digests)


def _check_peer(der: bytes | None, pins: frozenset[bytes], host: str | None) -> None:
    if der is None:
        raise PinningError(f"TLS server {host} sent no certificate; it cannot match a pinned public key.")
    try:
        digest = hashlib.sha256(spki_from_certificate(der)).digest()
    except ValueError:
        raise PinningError(f"TLS server {host} sent a certificate that could not be read for pinning.") from None
    if digest not in pins:
        got = PIN_PREFIX + base64.b64encode(digest).decode()
        raise PinningError(f"TLS server {host} presented public key {got}, which is not in pinned_public_keys; "
                           "refusing to connect.")


class _PinnedSSLSocket(ssl.SSLSocket):
    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        context = self.context
        if isinstance(context, PinnedSSLContext):
            try:
                _check_peer(self.getpeercert(binary_form=True), context.pins, self.server_hostname)
            except PinningError:
                self.close()
                raise


class _PinnedSSLObject(ssl.SSLObject):
    """For TLS inside TLS (an HTTPS proxy): the same check on the memory-BIO object."""

    def do_handshake(self) -> None:
        super().do_handshake()
        context = self.context
        if isinstance(context, PinnedSSLContext):
            _check_peer(self.getpeercert(binary_form=True), context.pins, self.server_hostname)


class PinnedSSLContext(ssl.SSLContext):
    """A verifying client context (CERT_REQUIRED, host names checked) that also checks pins."""

    sslsocket_class = _PinnedSSLSocket
    sslobject_class = _PinnedSSLObject
    pins: frozenset[bytes] = frozenset()


def ssl_context(pins: frozenset[bytes] | None, ca_bundle: str | None) -> ssl.SSLContext | None:
    """The context for the HTTP client, or None for httpx's default (no pins, no CA bundle)."""
    if pins is None:
        return ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
    context = PinnedSSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verify_mode CERT_REQUIRED, check_hostname on
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=ca_bundle or certifi.where())
    context.pins = pins
    return context
