"""TLS on --grpc, as a real client uses it (python3-grpcio's ssl_channel_credentials, certificates
made by openssl): Control over TLS with the token, health in plaintext too (the kubelet's gRPC
probe speaks no TLS), mutual TLS, certificates read again when their files change."""
import os
import re
import socket
import ssl
import subprocess
import time

import pytest

from conftest import REPO, TEND, run_tend, wait_until
from test_grpc import PREFACE, TOKEN, closed_by_peer

APP = str(REPO / "examples/hello/app.js")
NAME = "tend.test"  # the name in the server's certificate, which the client checks


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def issue(folder, name, ca="ca", san=f"DNS:{NAME},IP:127.0.0.1"):
    """A key and a certificate for `name`, signed by the CA in `folder`."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-subj",
            f"/CN={name}", "-out", f"{name}.csr", cwd=folder)
    (folder / f"{name}.ext").write_text(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
            cwd=folder)


@pytest.fixture
def certs(tmp_path):
    folder = tmp_path / "certs"
    folder.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-subj",
            "/CN=tend test CA", "-days", "2", "-out", "ca.crt", cwd=folder)
    for name in ("server", "rotated", "client"):
        issue(folder, name)
    return folder


class TlsTend:
    def __init__(self, start_tend, stubs, tmp_path, certs, extra=(), grpc="127.0.0.1:0"):
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN + "\n")
        self.cert, self.key = tmp_path / "tls.crt", tmp_path / "tls.key"
        self.cert.write_bytes((certs / "server.crt").read_bytes())
        self.key.write_bytes((certs / "server.key").read_bytes())
        self.process = start_tend(
            ["--grpc", grpc, "--control-token-file", str(token_file), "--grpc-tls-cert",
             str(self.cert), "--grpc-tls-key", str(self.key), *extra, "-i", "1", APP],
            env=dict(os.environ, PORT="0"))
        line = wait_until(lambda: next((l for l in self.process.stderr if "serving gRPC on" in l),
                                       None), what="the gRPC port")
        self.port = int(line.rsplit(":", 1)[1])
        self.stubs, self.ca = stubs, (certs / "ca.crt").read_bytes()

    def secure(self, client=None):
        """Control and health over TLS; `client`: a (key, certificate) for mutual TLS."""
        grpc = self.stubs.grpc
        key, chain = (client[0].read_bytes(), client[1].read_bytes()) if client else (None, None)
        channel = grpc.secure_channel(
            f"127.0.0.1:{self.port}", grpc.ssl_channel_credentials(self.ca, key, chain),
            options=[("grpc.ssl_target_name_override", NAME)])
        return (self.stubs.control_grpc.ControlStub(channel),
                self.stubs.health_grpc.HealthStub(channel))

    def plaintext(self):
        channel = self.stubs.grpc.insecure_channel(f"127.0.0.1:{self.port}")
        return (self.stubs.control_grpc.ControlStub(channel),
                self.stubs.health_grpc.HealthStub(channel))

    def served_certificate(self):
        """The certificate a new TLS connection is served, in DER."""
        context = ssl.create_default_context(cadata=self.ca.decode())
        context.set_alpn_protocols(["h2"])
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=NAME) as tls:
                return tls.getpeercert(binary_form=True)


BEARER = (("authorization", f"Bearer {TOKEN}"),)


def serving(stubs, health):
    return health.Check(stubs.health.HealthCheckRequest(service=""), timeout=5).status


def test_control_over_tls_and_health_in_plaintext_on_one_port(start_tend, stubs, tmp_path, certs):
    tend = TlsTend(start_tend, stubs, tmp_path, certs)
    SERVING = stubs.health.HealthCheckResponse.SERVING
    control, health = tend.secure()
    wait_until(lambda: serving(stubs, health) == SERVING, what="serving over TLS")
    [app] = control.ListWorkers(stubs.control.ListWorkersRequest(), metadata=BEARER,
                                timeout=5).apps
    assert app.ready == 1
    # Without the token, TLS or not, Control refuses.
    with pytest.raises(Exception) as refused:
        control.ListWorkers(stubs.control.ListWorkersRequest(), timeout=5)
    assert refused.value.code() == stubs.grpc.StatusCode.UNAUTHENTICATED
    # The kubelet's probe, in plaintext: health, and nothing else, token or not.
    plain_control, plain_health = tend.plaintext()
    assert serving(stubs, plain_health) == SERVING
    with pytest.raises(Exception) as refused:
        plain_control.ListWorkers(stubs.control.ListWorkersRequest(), metadata=BEARER, timeout=5)
    assert (refused.value.code(), refused.value.details()) == (
        stubs.grpc.StatusCode.UNAUTHENTICATED,
        "Control over --grpc needs TLS: plaintext connections get health alone")


def test_mutual_tls_refuses_a_client_without_a_certificate(start_tend, stubs, tmp_path, certs):
    tend = TlsTend(start_tend, stubs, tmp_path, certs,
                   extra=["--grpc-client-ca", str(certs / "ca.crt")])
    _, anonymous = tend.secure()
    with pytest.raises(Exception) as refused:
        serving(stubs, anonymous)
    assert refused.value.code() == stubs.grpc.StatusCode.UNAVAILABLE
    control, health = tend.secure(client=(certs / "client.key", certs / "client.crt"))
    wait_until(lambda: serving(stubs, health) == stubs.health.HealthCheckResponse.SERVING,
               what="serving to the client with a certificate")
    assert control.ListWorkers(stubs.control.ListWorkersRequest(), metadata=BEARER,
                               timeout=5).apps
    # A client that resumes its session (a ticket) is served again, not refused.
    session = tmp_path / "session.pem"
    for resume in ("-sess_out", "-sess_in"):
        done = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{tend.port}", "-alpn", "h2",
             "-CAfile", str(certs / "ca.crt"), "-cert", str(certs / "client.crt"), "-key",
             str(certs / "client.key"), "-tls1_2", resume, str(session)],
            input="", capture_output=True, text=True, errors="replace", timeout=30)
        assert "Verify return code: 0 (ok)" in done.stdout, done.stdout + done.stderr
    assert "Reused, TLSv1.2" in done.stdout, done.stdout


def der(pem_path):
    return ssl.PEM_cert_to_DER_cert(pem_path.read_text())


def test_a_rotated_certificate_is_served_to_new_connections(start_tend, stubs, tmp_path, certs):
    tend = TlsTend(start_tend, stubs, tmp_path, certs)
    assert tend.served_certificate() == der(certs / "server.crt")
    # As Kubernetes rotates a secret: new files swapped in under the same names.
    for part in ("crt", "key"):
        staged = tmp_path / f"staged.{part}"
        staged.write_bytes((certs / f"rotated.{part}").read_bytes())
        os.replace(staged, tmp_path / f"tls.{part}")
    wait_until(lambda: tend.served_certificate() == der(certs / "rotated.crt"), timeout=10,
               what="the rotated certificate")
    # Files that do not load are said once, and the last good certificate is kept.
    tend.cert.write_text("not a certificate\n")
    time.sleep(1.5)
    assert tend.served_certificate() == der(certs / "rotated.crt")
    assert sum("do not load" in line for line in tend.process.stderr) == 1
    _, health = tend.secure()
    assert serving(stubs, health) == stubs.health.HealthCheckResponse.SERVING


def test_tls_files_and_flags_that_cannot_work_stop_tend_with_one_line(tmp_path, certs):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    cases = [
        (["--grpc", "127.0.0.1:0", "--grpc-tls-cert", str(bad), "--grpc-tls-key",
          str(certs / "server.key")], f"tend: error: --grpc-tls-cert: {bad}: "),
        (["--grpc", "127.0.0.1:0", "--grpc-tls-cert", str(certs / "server.crt"),
          "--grpc-tls-key", str(certs / "client.key")],
         f"tend: error: --grpc-tls-cert: {certs}/client.key"),
        (["--grpc", "127.0.0.1:0", "--grpc-tls-cert", str(certs / "server.crt")],
         "tend: --grpc-tls-cert: needs --grpc-tls-key too"),
        (["--grpc-tls-cert", str(certs / "server.crt"), "--grpc-tls-key",
          str(certs / "server.key")], "tend: --grpc-tls-cert: TLS is for --grpc, which is off"),
        (["--grpc", "127.0.0.1:0", "--grpc-client-ca", str(certs / "ca.crt")],
         "tend: --grpc-client-ca: needs --grpc-tls-cert and --grpc-tls-key"),
    ]
    for flags, message in cases:
        code, _, err = run_tend([*flags, APP])
        assert code == 2 and err.startswith(message) and err.count("\n") == 1, (flags, err)


def test_an_encrypted_key_is_refused_not_prompted_for(tmp_path, certs):
    # OpenSSL's default would ask for a passphrase on the terminal, or read stdin, for good.
    openssl("rsa", "-in", "server.key", "-aes256", "-passout", "pass:secret", "-out",
            "locked.key", cwd=certs)
    done = subprocess.run(
        [TEND, "--http", "off", "--control", "off", "--grpc", "127.0.0.1:0", "--grpc-tls-cert",
         str(certs / "server.crt"), "--grpc-tls-key", str(certs / "locked.key"), APP],
        stdin=subprocess.PIPE, capture_output=True, text=True, timeout=20)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"tend: error: --grpc-tls-cert: {certs}/locked.key: ")


def test_a_token_over_plaintext_beyond_loopback_is_warned_of(start_tend, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    tend = start_tend(["--grpc", "0.0.0.0:0", "--control-token-file", str(token_file), "-i", "1",
                       APP], env=dict(os.environ, PORT="0"))
    wait_until(lambda: any("serving gRPC on" in line for line in tend.stderr), what="gRPC")
    assert any(re.search(r"warning: --control-token-file: the token crosses the network in "
                         r"plaintext on 0\.0\.0\.0:0", line) for line in tend.stderr)


def client_hello():
    """The first flight of a real TLS client, as bytes to send on any socket."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    with pytest.raises(ssl.SSLWantReadError):
        context.wrap_bio(incoming, outgoing, server_hostname=NAME).do_handshake()
    return outgoing.read()


def test_a_handshake_and_the_first_bytes_after_it_have_a_deadline(start_tend, stubs, tmp_path,
                                                                  certs):
    # Half a ClientHello, and a handshake done with nothing after it: gRPC would hold either
    # for good (it has no call, so no idle timer), tend closes both within 5 s.
    tend = TlsTend(start_tend, stubs, tmp_path, certs)
    half = socket.create_connection(("127.0.0.1", tend.port))
    half.sendall(client_hello()[:40])
    context = ssl.create_default_context(cadata=tend.ca.decode())
    context.set_alpn_protocols(["h2"])
    silent = context.wrap_socket(socket.create_connection(("127.0.0.1", tend.port), timeout=5),
                                 server_hostname=NAME)
    began = time.monotonic()
    try:
        assert closed_by_peer(half, 8)
        assert closed_by_peer(silent, 8)
        assert time.monotonic() - began > 3  # the deadline, not a refusal
    finally:
        half.close()
        silent.close()
    _, health = tend.secure()
    assert serving(stubs, health) == stubs.health.HealthCheckResponse.SERVING


def test_handshakes_past_the_rate_are_refused_and_the_rate_refills(start_tend, stubs, tmp_path,
                                                                  certs):
    # 250 ClientHellos from 250 addresses, in a burst: at most the bucket of 100 plus 100 a
    # second are answered; the rest are closed unanswered. A second later a client is served.
    tend = TlsTend(start_tend, stubs, tmp_path, certs)
    hello = client_hello()
    connections, answered = [], 0
    began = time.monotonic()
    try:
        for batch in range(5):  # in batches: 64 at most wait for their first byte
            sent = []
            for i in range(50):
                connection = socket.socket()
                connection.bind((f"127.0.{30 + batch}.{i + 1}", 0))
                connection.connect(("127.0.0.1", tend.port))
                connection.sendall(hello)
                sent.append(connection)
            for connection in sent:  # each answered (a ServerHello) or closed
                connection.settimeout(5)
                try:
                    answered += connection.recv(1) == b"\x16"
                except ConnectionResetError:
                    pass
            connections += sent
        elapsed = time.monotonic() - began
        assert 100 <= answered <= 100 + 100 * elapsed + 2, (answered, elapsed)
    finally:
        for connection in connections:
            connection.close()
    time.sleep(1)
    _, health = tend.secure()
    assert serving(stubs, health) == stubs.health.HealthCheckResponse.SERVING


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the old versions, on purpose
def test_tls_below_1_2_is_refused(start_tend, stubs, tmp_path, certs):
    tend = TlsTend(start_tend, stubs, tmp_path, certs)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", tend.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError) as refused:
            context.wrap_socket(raw, server_hostname=NAME)
    if "no protocols available" in str(refused.value):
        pytest.skip("this machine's OpenSSL cannot offer TLS 1.1 either")
    assert "version" in str(refused.value).lower()  # tend's alert: protocol version


def test_tls_connections_count_against_the_bound_and_give_up_their_place(start_tend, stubs,
                                                                         tmp_path, certs):
    # 512 TLS connections past HTTP/2's preface from 16 addresses, then the kubelet's
    # plaintext probe: it gets in, in the place of the oldest TLS one, whose tunnel closes.
    tend = TlsTend(start_tend, stubs, tmp_path, certs)
    context = ssl.create_default_context(cadata=tend.ca.decode())
    context.set_alpn_protocols(["h2"])
    held = []
    try:
        for i in range(512):
            raw = socket.socket()
            raw.bind((f"127.0.{40 + i // 32}.1", 0))
            raw.settimeout(5)
            while True:  # past the burst, handshakes are refused until a token comes back
                try:
                    raw.connect(("127.0.0.1", tend.port))
                    tls = context.wrap_socket(raw, server_hostname=NAME)
                    break
                except (ssl.SSLError, ConnectionResetError, OSError):
                    raw.close()
                    time.sleep(0.02)
                    raw = socket.socket()
                    raw.bind((f"127.0.{40 + i // 32}.1", 0))
                    raw.settimeout(5)
            tls.sendall(PREFACE)
            assert tls.recv(1) == b"\x00"  # gRPC's SETTINGS, through the tunnel
            held.append(tls)
        _, health = tend.plaintext()
        assert serving(stubs, health) == stubs.health.HealthCheckResponse.SERVING
        assert closed_by_peer(held[0], 5)
        assert not closed_by_peer(held[1])
    finally:
        for connection in held:
            connection.close()
