"""Certificate pinning against a local TLS server with self-signed certificates made by cryptography."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from openpaas_sdk import APIConnectionError, ConfigurationError, OpenPaaSClient, PinningError, public_key_pin
from openpaas_sdk.pinning import spki_from_certificate
from servers import Certificate, local_server, scripted, self_signed_certificate, server_tls_context

ME = (200, {"Connection": "close"}, {"object": "principal"})


def pin_of(certificate: Certificate) -> str:
    return "sha256/" + base64.b64encode(hashlib.sha256(certificate.spki_der).digest()).decode()


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Certificate, Certificate]:
    return self_signed_certificate(tmp_path, "a"), self_signed_certificate(tmp_path, "b")


def test_spki_extraction_matches_cryptography(certs: tuple[Certificate, Certificate]) -> None:
    for certificate in certs:
        assert spki_from_certificate(certificate.der) == certificate.spki_der
        assert public_key_pin(certificate.der) == pin_of(certificate)


def test_right_pin_passes(certs: tuple[Certificate, Certificate]) -> None:
    a, b = certs
    with local_server(scripted(ME), tls=server_tls_context(a)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url, ca_bundle=str(a.cert_pem),
                            pinned_public_keys=[pin_of(b), pin_of(a)]) as client:
            assert client.me() == {"object": "principal"}
    assert server.requests[0].headers["authorization"] == "Bearer sk_test_x"


def test_wrong_pin_is_refused_before_anything_is_sent(certs: tuple[Certificate, Certificate], sleeps: list[float]) -> None:
    a, b = certs
    with local_server(scripted(ME), tls=server_tls_context(a)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url, ca_bundle=str(a.cert_pem),
                            pinned_public_keys=[pin_of(b)]) as client:
            with pytest.raises(PinningError) as caught:
                client.me()
    assert isinstance(caught.value, APIConnectionError)
    assert pin_of(a) in str(caught.value)  # says what the server presented
    assert server.requests == []  # the credential never left
    assert sleeps == []  # and a wrong key is not retried


def test_every_new_connection_is_checked(tmp_path: Path, certs: tuple[Certificate, Certificate]) -> None:
    a, b = certs
    bundle = tmp_path / "both.pem"
    bundle.write_bytes(a.cert_pem.read_bytes() + b.cert_pem.read_bytes())
    context = server_tls_context(a)
    with local_server(scripted(ME), tls=context) as server:  # "Connection: close": one connection per request
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url, ca_bundle=str(bundle),
                            pinned_public_keys=[pin_of(a)], max_retries=0) as client:
            assert client.me()
            context.load_cert_chain(b.cert_pem, b.key_pem)  # the server now presents another (trusted) key
            with pytest.raises(PinningError):
                client.me()
    assert len(server.requests) == 1


def test_certificates_are_still_verified(certs: tuple[Certificate, Certificate], sleeps: list[float]) -> None:
    a, _ = certs
    with local_server(scripted(ME), tls=server_tls_context(a)) as server:
        # The right pin, but the self-signed certificate is not trusted: refused by ordinary verification.
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url, pinned_public_keys=[pin_of(a)]) as client:
            with pytest.raises(APIConnectionError) as caught:
                client.me()
    assert not isinstance(caught.value, PinningError)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert sleeps == []  # a verification failure is not a passing fault
    assert server.requests == []


def test_ca_bundle_without_pins_verifies(certs: tuple[Certificate, Certificate]) -> None:
    a, _ = certs
    with local_server(scripted(ME), tls=server_tls_context(a)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url, ca_bundle=str(a.cert_pem)) as client:
            assert client.me()


@pytest.mark.parametrize("pins", [[], ["sha1/abc"], ["sha256/too-short"], "sha256/" + "A" * 43 + "="])
def test_malformed_pins_are_refused(pins: object) -> None:
    with pytest.raises(ConfigurationError):
        OpenPaaSClient(api_key="sk_test_x", base_url="https://api.example.com", pinned_public_keys=pins)  # type: ignore[arg-type]
