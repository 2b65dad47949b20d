"""SMTP over STARTTLS with login, and over implicit TLS (smtps://), against aiosmtpd on loopback
with a self-signed certificate."""
import datetime as dt
import email
import email.policy
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications.channels import Message, SendError, Smtp
from tests.conftest import free_port


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return ctx


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((session.authenticated, email.message_from_bytes(envelope.original_content,
                                                                              policy=email.policy.default)))
        return "250 OK"


def check_login(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == b"duban" and auth_data.password == b"s3cret"
    return AuthResult(success=ok)


MSG = Message("digest:contact:1:2025-04-28", "civil_affairs@350102.example.org", "鼓楼区民政局",
              "【督办提醒】鼓楼区民政局：1 项待办事项", "正文：请按期办理。", "<p>正文</p>")


def test_starttls_with_login(tls_context):
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=tls_context, require_starttls=True,
                        authenticator=check_login, auth_required=True)
    server.start()
    try:
        smtp = Smtp(f"smtp://duban:s3cret@127.0.0.1:{port}?starttls=1&verify=0", "督办系统 <duban@example.org>")
        smtp.send(MSG)
        smtp.send(Message(MSG.key + "b", MSG.address, MSG.name, MSG.subject, MSG.text, MSG.html))  # same connection
        smtp.close()
        assert len(inbox.messages) == 2 and all(auth for auth, _ in inbox.messages)
        assert inbox.messages[0][1]["Subject"] == MSG.subject
        # (a wrong password is not exercised: aiosmtpd never answers a failed AUTH, where a relay sends 535)
        plain = Smtp(f"smtp://duban:s3cret@127.0.0.1:{port}", "督办系统 <duban@example.org>")   # no STARTTLS
        with pytest.raises(SendError):
            plain.send(MSG)
    finally:
        server.stop()


def test_implicit_tls(tls_context):
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=tls_context)
    server.start()
    try:
        smtp = Smtp(f"smtps://127.0.0.1:{port}?verify=0", "督办系统 <duban@example.org>")
        smtp.send(MSG)
        smtp.close()
        assert [m["Message-ID"] for _, m in inbox.messages] == ["<" + __import__("hashlib").sha256(
            MSG.key.encode()).hexdigest()[:32] + "@example.org>"]
        strict = Smtp(f"smtps://127.0.0.1:{port}", "督办系统 <duban@example.org>")    # verifies: self-signed fails
        with pytest.raises(SendError):
            strict.send(MSG)
    finally:
        server.stop()
