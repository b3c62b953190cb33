"""TLS trust by pinning: the one certificate an operator confirmed is the only one trusted.

First contact with a server shows the SHA-256 fingerprint of its certificate (the same
colon-separated upper-case hex that ``opsconsole serve --tls self-signed`` prints) and asks
the operator to confirm it. The confirmed certificate is stored with the profile; from then on
the SSL context used by httpx and by the websockets client trusts that certificate alone (not
the system's CAs), and a server presenting any other certificate is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PeerCertificate:
    """The certificate a server presented, as shown to the operator."""

    pem: str
    fingerprint: str
    subject: str
    not_after: datetime


class TrustError(Exception):
    """The server's certificate cannot be trusted; ``str()`` says what to do."""


class UntrustedCertificate(TrustError):  # noqa: N818 - names the state, like ssl's errors
    """First contact: the operator has not confirmed this certificate yet."""

    def __init__(self, presented: PeerCertificate) -> None:
        super().__init__(
            f"The server's certificate is not trusted yet (SHA-256 {presented.fingerprint})."
        )
        self.presented = presented


class CertificateChanged(TrustError):  # noqa: N818
    """The server presents a certificate other than the one confirmed for the profile."""

    def __init__(self, pinned: str, presented: PeerCertificate) -> None:
        super().__init__(
            "The server's certificate has CHANGED and is refused.\n"
            f"Confirmed: {pinned}\nPresented: {presented.fingerprint}\n"
            "This is expected only if the server's certificate was replaced on purpose; "
            "otherwise someone may be intercepting the connection. Ask the server's "
            "administrator for the new fingerprint before trusting it "
            "(`opsconsole console --profile NAME --forget-certificate`)."
        )
        self.pinned = pinned
        self.presented = presented


def fingerprint_der(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def fingerprint_pem(pem: str) -> str:
    cert = x509.load_pem_x509_certificate(pem.encode())
    return fingerprint_der(cert.public_bytes(serialization.Encoding.DER))


def describe_der(der: bytes) -> PeerCertificate:
    cert = x509.load_der_x509_certificate(der)
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return PeerCertificate(
        pem=pem,
        fingerprint=fingerprint_der(der),
        subject=cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc.astimezone(UTC),
    )


def pinned_context(pem: str) -> ssl.SSLContext:
    """An SSL context that trusts exactly this certificate, and nothing else.

    The certificate is the only trust anchor (partial-chain verification lets a leaf be one),
    so a certificate from any public CA is refused too. The host name is not checked: the
    operator confirmed this exact certificate for this profile, which is a stronger binding
    than a name, and lets a self-signed certificate be reached by any address of the host.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=pem)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def _probe_context() -> ssl.SSLContext:
    # Only to read the certificate the server presents; nothing is sent over it.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def fetch_certificate(host: str, port: int) -> PeerCertificate:
    """The certificate the server at host:port presents (no verification: for showing it)."""
    _reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=_probe_context(), server_hostname=host),
        PROBE_TIMEOUT_S,
    )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        if not der:
            raise TrustError(f"{host}:{port} did not present a certificate")
        return describe_der(der)
    finally:
        writer.close()
        # The peer may drop a half-used TLS connection abruptly.
        with contextlib.suppress(ssl.SSLError, OSError):
            await writer.wait_closed()


async def check(host: str, port: int, pinned_pem: str | None) -> PeerCertificate:
    """What the server presents, checked against the pin.

    Raises:
        UntrustedCertificate: no pin yet; the caller asks the operator to confirm.
        CertificateChanged: a pin exists and the server presents another certificate.
        OSError: the server cannot be reached.
    """
    presented = await fetch_certificate(host, port)
    if pinned_pem is None:
        raise UntrustedCertificate(presented)
    pinned = fingerprint_pem(pinned_pem)
    if presented.fingerprint != pinned:
        raise CertificateChanged(pinned, presented)
    return presented
