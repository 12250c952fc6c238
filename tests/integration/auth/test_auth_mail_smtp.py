"""SmtpMailer against an SMTP server on loopback that speaks the real protocol (EHLO, STARTTLS,
AUTH PLAIN, MAIL, RCPT, DATA) over real TLS with a certificate made for the test."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import BinaryIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bastion.auth.mail import MailError, SmtpMailer
from bastion.core.clock import FixedClock

PASSWORD = "pa ss/w%rd"
URL_PASSWORD = "pa%20ss%2Fw%25rd"
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


@dataclass
class Seen:
    commands: list[tuple[bool, str]] = field(default_factory=list)  # (over TLS, command)
    auth: list[tuple[bool, bytes]] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)


class SmtpServer:
    """One connection at a time; records what the client said and whether TLS was on."""

    def __init__(
        self, tls: ssl.SSLContext | None, *, starttls: bool, implicit_tls: bool = False
    ) -> None:
        self.tls, self.offer_starttls, self.implicit_tls = tls, starttls, implicit_tls
        self.seen = Seen()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.sock.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(10)
            opened: list[socket.socket | BinaryIO] = [conn]
            try:
                self._session(conn, opened)
            except (OSError, ssl.SSLError):
                pass  # the client hung up, or refused our certificate
            finally:
                for resource in reversed(opened):
                    resource.close()

    def _session(self, conn: socket.socket, opened: list[socket.socket | BinaryIO]) -> None:
        secure = False
        if self.implicit_tls:
            assert self.tls is not None
            conn = self.tls.wrap_socket(conn, server_side=True)
            opened.append(conn)
            secure = True
        reader = conn.makefile("rb")
        opened.append(reader)
        conn.sendall(b"220 test ESMTP\r\n")
        while line := reader.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            self.seen.commands.append((secure, verb))
            if verb == "EHLO":
                offer = self.offer_starttls and not secure
                conn.sendall(
                    b"250-test\r\n"
                    + (b"250-STARTTLS\r\n" if offer else b"")
                    + b"250-AUTH PLAIN\r\n250 8BITMIME\r\n"
                )
            elif verb == "STARTTLS" and self.offer_starttls and self.tls is not None:
                conn.sendall(b"220 go ahead\r\n")
                conn = self.tls.wrap_socket(conn, server_side=True)
                reader = conn.makefile("rb")
                opened += [conn, reader]
                secure = True
            elif verb == "AUTH":
                self.seen.auth.append((secure, base64.b64decode(command.split(" ")[2])))
                conn.sendall(b"235 ok\r\n")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                conn.sendall(b"250 ok\r\n")
            elif verb == "DATA":
                conn.sendall(b"354 go\r\n")
                body = b""
                while (data := reader.readline()) not in (b".\r\n", b""):
                    body += data
                self.seen.messages.append(body)
                conn.sendall(b"250 queued\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 no\r\n")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """What a client that trusts our test certificate (and nothing else) would use."""
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.fixture
def serve(server_tls: ssl.SSLContext) -> Iterator[type[SmtpServer]]:
    started: list[SmtpServer] = []

    class Started(SmtpServer):
        def __init__(self, *, starttls: bool, implicit_tls: bool = False) -> None:
            super().__init__(server_tls, starttls=starttls, implicit_tls=implicit_tls)
            started.append(self)

    yield Started  # type: ignore[misc]
    for server in started:
        server.close()


def delivered(server: SmtpServer) -> list[tuple[str, str, str]]:
    raw = [m.replace(b"\r\n", b"\n") for m in server.seen.messages]
    parsed = [BytesParser(policy=policy.default).parsebytes(m) for m in raw]
    return [(m["To"], m["Subject"], m.get_content()) for m in parsed]


def test_starttls_delivers_and_authenticates_inside_tls(
    serve: type[SmtpServer], client_tls: ssl.SSLContext
) -> None:
    server = serve(starttls=True)
    mailer = SmtpMailer(
        f"smtp://alice:{URL_PASSWORD}@127.0.0.1:{server.port}",
        "bastion@example.com",
        clock=FixedClock(NOW),
        tls_context=client_tls,
    )
    mailer.send("bob@example.com", "Your sign-in code", "Your sign-in code is 123456.\n")
    assert delivered(server) == [
        ("bob@example.com", "Your sign-in code", "Your sign-in code is 123456.\n")
    ]
    assert server.seen.auth == [(True, b"\0alice\0" + PASSWORD.encode())]
    assert all(secure for secure, verb in server.seen.commands if verb in ("MAIL", "DATA"))


def test_server_without_starttls_is_refused_before_credentials(
    serve: type[SmtpServer], client_tls: ssl.SSLContext
) -> None:
    server = serve(starttls=False)
    mailer = SmtpMailer(
        f"smtp://alice:{URL_PASSWORD}@127.0.0.1:{server.port}",
        "bastion@example.com",
        clock=FixedClock(NOW),
        tls_context=client_tls,
    )
    with pytest.raises(MailError) as refused:
        mailer.send("bob@example.com", "Code", "123456")
    assert "STARTTLS" in str(refused.value)
    assert PASSWORD not in str(refused.value) and "alice" not in str(refused.value)
    assert server.seen.auth == [] and server.seen.messages == []
    assert "MAIL" not in [verb for _, verb in server.seen.commands]


def test_implicit_tls_delivers(serve: type[SmtpServer], client_tls: ssl.SSLContext) -> None:
    server = serve(starttls=False, implicit_tls=True)
    mailer = SmtpMailer(
        f"smtps://alice:{URL_PASSWORD}@127.0.0.1:{server.port}",
        "bastion@example.com",
        clock=FixedClock(NOW),
        tls_context=client_tls,
    )
    mailer.send("bob@example.com", "Hello", "Hi\n")
    assert delivered(server) == [("bob@example.com", "Hello", "Hi\n")]
    assert server.seen.auth == [(True, b"\0alice\0" + PASSWORD.encode())]


def test_untrusted_certificate_is_refused(serve: type[SmtpServer]) -> None:
    # The system's CAs do not vouch for the test certificate: a man in the middle's neither.
    server = serve(starttls=True)
    mailer = SmtpMailer(
        f"smtp://alice:{URL_PASSWORD}@127.0.0.1:{server.port}",
        "bastion@example.com",
        clock=FixedClock(NOW),
    )
    with pytest.raises(MailError) as refused:
        mailer.send("bob@example.com", "Code", "123456")
    assert PASSWORD not in str(refused.value) and "alice" not in str(refused.value)
    assert server.seen.auth == [] and server.seen.messages == []


def test_plain_smtp_to_loopback_delivers(serve: type[SmtpServer]) -> None:
    server = serve(starttls=False)
    mailer = SmtpMailer(
        f"smtp://127.0.0.1:{server.port}?starttls=0", "bastion@example.com", clock=FixedClock(NOW)
    )
    mailer.send("bob@example.com", "Local relay", "Hi\n")
    assert delivered(server) == [("bob@example.com", "Local relay", "Hi\n")]
    assert server.seen.auth == []


def test_unreachable_server_raises_mail_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again on leaving: nothing listens there
    mailer = SmtpMailer(
        f"smtp://alice:{URL_PASSWORD}@127.0.0.1:{port}", "bastion@example.com", timeout=5
    )
    with pytest.raises(MailError) as refused:
        mailer.send("bob@example.com", "Code", "123456")
    assert PASSWORD not in str(refused.value)
