"""Machinery shared by the end-to-end scenarios.

A Tern of our own (config, certificate, users, start/kill/restart), real
clients (swaks, smtplib, nodemailer), and readers for what the server wrote:
Maildir files and spool records. Python 3 standard library only.

Trusts: the tern binary under test, swaks, node and openssl from the PATH
or Debian's locations. Touches: a temporary folder of its own and TCP ports
25/587/465 on 127.x.y.z addresses it picks (never anything off loopback).
"""

import ctypes
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
E2E_DIR = Path(__file__).resolve().parents[1]
TERN = Path(os.environ.get("TERN", REPO / ".build" / "debug" / "tern"))

HOSTNAME = "mx.e2e.test"
DOMAIN = "e2e.test"
CATCHALL_DOMAIN = "catchall.e2e.test"
USERS = {"alice@e2e.test": "alice-S3cret!pw", "bob@e2e.test": "bob-pw-2 with spaces"}
ALIASES = """\
# written by Tests/e2e
postmaster: alice@e2e.test
sales@e2e.test: alice@e2e.test, bob@e2e.test
jürgen@e2e.test: bob@e2e.test
@catchall.e2e.test: alice@e2e.test
"""


class Fail(Exception):
    """A scenario's expectation that did not hold; the text says why."""


def check(condition, message):
    if not condition:
        raise Fail(message)


def deadline_loop(seconds, step=0.05):
    """Yields until `seconds` have passed, sleeping `step` between rounds."""
    end = time.monotonic() + seconds
    while True:
        yield
        if time.monotonic() >= end:
            return
        time.sleep(step)


def _die_with_parent():
    """Runs in the child before exec: SIGKILL it when the runner dies, so a
    killed runner never leaves a server behind (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)
    except OSError:
        pass


# MARK: Addresses

def port_free(address, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_subnet(rng):
    """A 127.A.B.0/24 of our own where .1 and .2 have 25/587/465 free; the
    servers and the clients' extra source addresses all live in it.
    E2E_SUBNET=127.A.B overrides."""
    forced = os.environ.get("E2E_SUBNET")
    if forced:
        return forced.rstrip(".")
    for _ in range(50):
        subnet = f"127.{rng.randrange(100, 200)}.{rng.randrange(0, 256)}"
        if all(port_free(f"{subnet}.{h}", p) for h in (1, 2) for p in (25, 587, 465)):
            return subnet
    raise RuntimeError("no free 127.x.y.0/24 with ports 25/587/465 free")


# MARK: Certificate and users

def make_certificate(directory, addresses, hostname=HOSTNAME, stem=""):
    """A self-signed P-256 certificate for `hostname` and `addresses`:
    (cert path, key path) in `directory`, named `{stem}cert.pem`/`{stem}key.pem`."""
    cert, key = directory / f"{stem}cert.pem", directory / f"{stem}key.pem"
    san = ",".join([f"DNS:{hostname}"] + [f"IP:{a}" for a in addresses])
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", f"/CN={hostname}", "-addext", f"subjectAltName={san}",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def add_users(users_file, users=None):
    """`tern user add` for each {address: password} (default: USERS)."""
    for address, password in (USERS if users is None else users).items():
        r = subprocess.run([str(TERN), "user", "add", "--users", str(users_file), address],
                           input=password + "\n", capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"tern user add {address} exited {r.returncode}: {r.stderr.strip()}")


# MARK: The server

def endpoint(host, port):
    """"host:port" as the configuration writes it: "[::1]:25" for IPv6."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def toml_value(value):
    """A TOML literal for a str, bool, int, float or list of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, (str, Path)):
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        text = "".join(c if c >= " " and c != "\x7f" else f"\\u{ord(c):04x}" for c in text)
        return f'"{text}"'
    raise TypeError(f"no TOML for {value!r}")


class Server:
    """One `tern serve` with its own config, state, Maildirs and log under `root`."""

    def __init__(self, root, address, cert, key, users_file, aliases_file, name="tern", *, hostname=HOSTNAME,
                 domains=(DOMAIN, CATCHALL_DOMAIN), ports=(25, 587, 465), settings=None, listeners=None):
        """`settings` ({section: {key: value}}) is merged into the sections
        written here ([dns], [limits]) or adds sections ([delivery], [log]…):
        e.g. {"dns": {"nameservers": ["127.0.0.1:5353"]}, "delivery": {"mx_port": 25}}.
        Values are Python str/int/float/bool or lists of them.
        `listeners` ([(host, port, role)], IPv6 hosts without brackets)
        replaces the listeners made from `address` and `ports`; cert and key
        "" leave TLS off (mx listeners only)."""
        self.root = Path(root)
        self.address = address
        self.name = name
        self.hostname = hostname
        self.domains = list(domains)
        self.ports = list(ports)
        self.state = self.root / "state"
        self.mail = self.root / "mail"
        self.config = self.root / "tern.toml"
        self.log_path = self.root / "tern.log"
        self.proc = None
        self.root.mkdir(parents=True, exist_ok=True)
        sections = {
            # Nothing listens there: should remote delivery ever be attempted, no query leaves this machine.
            # No client-name lookups either (they would only time out), unless a scenario asks.
            "dns": {"nameservers": ["127.0.0.1:9"], "reverse_lookup": False},
            # Nor SPF/DMARC checks (their lookups would only time out there).
            "checks": {"spf": "off", "dkim": "off", "dmarc": "off"},
            "limits": {"auth_failures": 5},
        }
        for section, values in (settings or {}).items():
            sections.setdefault(section, {}).update(values)
        roles = {25: "mx", 587: "submission", 465: "submissions"}
        self.listeners = list(listeners) if listeners is not None else [(address, p, roles[p]) for p in self.ports]
        listeners = "".join(f'\n[[listener]]\naddress = "{endpoint(host, port)}"\nrole = "{role}"\n'
                            for host, port, role in self.listeners)
        tables = "".join(f"\n[{section}]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in values.items())
                         for section, values in sections.items())
        self.config.write_text(f"""\
# written by Tests/e2e
hostname = {toml_value(hostname)}
domains = {toml_value(self.domains)}
state_dir = "{self.state}"
{listeners}
[tls]
certificate = "{cert}"
private_key = "{key}"

[accounts]
users = "{users_file}"
aliases = "{aliases_file}"

[mailbox]
maildir = "{self.mail}/{{domain}}/{{user}}/Maildir"
{tables}""")

    @property
    def spool_env(self):
        """Queue files: one per queued message, its envelope header then the message bytes."""
        return self.state / "spool" / "env"

    @property
    def spool_state(self):
        """Recipient states of the entries an attempt left unfinished."""
        return self.state / "spool" / "state"

    def start(self, timeout=30):
        log = open(self.log_path, "ab")
        log.write(f"==== {time.strftime('%H:%M:%S')} start ====\n".encode())
        log.flush()
        self.proc = subprocess.Popen([str(TERN), "serve", "--config", str(self.config)],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=_die_with_parent)
        log.close()
        self.wait_ready(timeout)

    def wait_ready(self, timeout):
        """Polls each listener for its 220 banner (submissions through TLS) until
        the deadline; a wildcard address is polled through loopback."""
        pending = list(self.listeners)
        last = ""
        for _ in deadline_loop(timeout, 0.05):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} while starting:\n"
                                   + self.log_tail())
            for listener in list(pending):
                host, port, role = listener
                try:
                    if banner({"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host), port,
                              tls=(role == "submissions")).startswith("220 "):
                        pending.remove(listener)
                except OSError as e:
                    last = f"{endpoint(host, port)}: {e}"
            if not pending:
                return
        raise RuntimeError(f"{self.name}: no 220 banner on {[endpoint(h, p) for h, p, _ in pending]} after {timeout} s "
                           f"({last})\n" + self.log_tail())

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s; safe to call twice."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=15):
        return "\n".join(self.log().splitlines()[-lines:])

    # MARK: Spool

    def spool_ids(self):
        try:
            return {p.name for p in self.spool_env.iterdir() if not p.name.startswith(".")}
        except FileNotFoundError:
            return set()

    def wait_unspooled(self, queue_ids, timeout=20):
        """Waits until no record in spool/env names any of `queue_ids`."""
        queue_ids = set(queue_ids)
        for _ in deadline_loop(timeout):
            left = queue_ids & self.spool_ids()
            if not left:
                return
        raise Fail(f"still in spool/env after {timeout} s: {sorted(left)}")

    # MARK: Maildirs

    def maildir(self, address):
        local, domain = address.split("@")
        return self.mail / domain / local / "Maildir"

    def delivered_files(self):
        """Every file in every Maildir's new/ and cur/, as {path: mailbox address}."""
        out = {}
        if not self.mail.exists():
            return out
        for domain in self.mail.iterdir():
            for user in domain.iterdir():
                for sub in ("new", "cur"):
                    d = user / "Maildir" / sub
                    if d.is_dir():
                        for f in d.iterdir():
                            out[f] = f"{user.name}@{domain.name}"
        return out


def banner(address, port, tls=False, timeout=2, source=None):
    """Connects, returns the first reply line (the greeting) and QUITs."""
    raw = socket.create_connection((address, port), timeout=timeout,
                                   source_address=(source, 0) if source else None)
    try:
        sock = raw
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(raw)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(512)
            if not chunk:
                break
            data += chunk
        try:
            sock.sendall(b"QUIT\r\n")
        except OSError:
            pass
        return data.decode("utf-8", "replace").split("\r\n")[0]
    finally:
        raw.close()


# MARK: Delivered messages

class Delivered:
    """One file from a Maildir: raw bytes, parsed header fields, body bytes."""

    def __init__(self, path, mailbox, raw):
        self.path = path
        self.mailbox = mailbox
        self.raw = raw
        head, sep, body = raw.partition(b"\n\n")
        self.header_bytes = head + b"\n"
        self.body = body if sep else b""
        self.fields = []  # [(name, value)], unfolded, in order
        for line in head.split(b"\n"):
            text = line.decode("utf-8", "surrogateescape")
            if text[:1] in (" ", "\t") and self.fields:
                name, value = self.fields[-1]
                self.fields[-1] = (name, value + " " + text.strip())
            else:
                name, _, value = text.partition(":")
                self.fields.append((name.strip(), value.strip()))

    def header(self, name):
        for n, v in self.fields:
            if n.lower() == name.lower():
                return v
        return None

    def headers(self, name):
        return [v for n, v in self.fields if n.lower() == name.lower()]

    @property
    def queue_id(self):
        m = re.search(r"\(Tern\) with \S+ id (\S+?)[;\s]", self.header("Received") or "")
        return m.group(1) if m else None

    def describe(self):
        return f"{self.path.name} in {self.mailbox}"


def marker(scenario):
    return f"e2e-{scenario}-{random.randrange(16**8):08x}"


def collect(server, mark):
    """Every delivered file containing `mark`, as {mailbox: [Delivered]}."""
    out = {}
    needle = mark.encode()
    for path, mailbox in server.delivered_files().items():
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        if needle in raw:
            out.setdefault(mailbox, []).append(Delivered(path, mailbox, raw))
    return out


def await_delivery(server, mark, expected, timeout=20, stays_queued=False):
    """Waits until each mailbox in `expected` ({address: copies}) holds a
    message containing `mark`, then until the spool no longer holds those
    queue IDs (delivery finished), and returns {mailbox: [Delivered]}.
    Fails when a mailbox holds another number of copies than expected or
    an unexpected mailbox got one."""
    found = {}
    for _ in deadline_loop(timeout):
        found = collect(server, mark)
        if all(found.get(m) for m in expected):
            break
    else:
        got = {m: len(v) for m, v in found.items()}
        raise Fail(f"not delivered within {timeout} s: expected {expected}, Maildirs hold {got}; "
                   f"spool/env has {len(server.spool_ids())} records")
    ids = {d.queue_id for ds in found.values() for d in ds} - {None}
    if stays_queued:
        # Remote recipients keep the entry in the spool: wait for the log's
        # status=sent lines of the local deliveries instead.
        for _ in deadline_loop(timeout):
            log = server.log()
            sent = sum(1 for l in log.splitlines() if "status=sent" in l and any(f"queue_id={i} " in l for i in ids))
            if sent >= len(expected):
                break
    else:
        server.wait_unspooled(ids, timeout)
    found = collect(server, mark)
    got = {m: len(v) for m, v in found.items()}
    check(got == expected, f"copies per mailbox {got}, expected {expected}")
    return found


def check_delivered_basics(d, return_path=None, delivered_to=None, protocol=None, tls=None, helo=None):
    """What every local delivery must look like: LF line endings; Return-Path,
    Delivered-To, then our Received field, in that order; the Received names
    the protocol (ESMTP/ESMTPS/ESMTPSA/UTF8SMTP…), the TLS version and cipher
    when `tls` = (version, cipher) is given, and no TLS clause otherwise."""
    where = d.describe()
    check(b"\r" not in d.raw, f"{where}: CR found, Maildir files must use LF line endings")
    check(d.path.parent.name == "new", f"{where}: delivered into {d.path.parent.name}/, not new/")
    size = re.search(r",S=(\d+)", d.path.name)
    check(size is None or int(size.group(1)) == len(d.raw),
          f"{where}: the name says S={size and size.group(1)} but the file has {len(d.raw)} bytes")
    mode = d.path.stat().st_mode & 0o777
    check(mode & 0o077 == 0, f"{where}: mode {mode:o}: others can read another user's mail")
    # Our trace fields come first: Return-Path, Delivered-To, then (for an
    # authenticated submission) our Authentication-Results saying who, then Received.
    names = [n.lower() for n, _ in d.fields[:4]]
    if len(names) > 2 and names[2] == "authentication-results":
        ours = d.fields[2][1].strip()
        check(ours.lower().startswith(HOSTNAME + ";") and "auth=pass smtp.auth=" in ours,
              f"{where}: Authentication-Results {ours!r} is not ours with auth=pass")
        names = names[:2] + names[3:]
    check(names[:3] == ["return-path", "delivered-to", "received"],
          f"{where}: first fields are {names}, expected Return-Path, Delivered-To, [Authentication-Results,] Received")
    if return_path is not None:
        check(d.header("Return-Path") == f"<{return_path}>",
              f"{where}: Return-Path {d.header('Return-Path')!r}, expected <{return_path}>")
    if delivered_to is not None:
        check(d.header("Delivered-To") == delivered_to,
              f"{where}: Delivered-To {d.header('Delivered-To')!r}, expected {delivered_to!r}")
    received = d.header("Received") or ""
    check(f"by {HOSTNAME} (Tern) with " in received, f"{where}: Received lacks 'by {HOSTNAME} (Tern)': {received!r}")
    if protocol is not None:
        check(f" with {protocol} id " in received, f"{where}: Received should say 'with {protocol}': {received!r}")
    if tls is not None:
        version, cipher = tls
        check(f"(using {version} with cipher {cipher})" in received,
              f"{where}: Received should say '(using {version} with cipher {cipher})': {received!r}")
    elif protocol is not None and not protocol.endswith(("S", "SA")):
        check("(using " not in received, f"{where}: Received claims TLS on a plain session: {received!r}")
    if helo is not None:
        check(received.startswith(f"from {helo} "), f"{where}: Received should start 'from {helo} ': {received!r}")
    check(d.queue_id, f"{where}: no queue id in Received: {received!r}")


def lf_body(text_crlf):
    return text_crlf.replace(b"\r\n", b"\n")


# MARK: Clients

QUEUED = re.compile(r"250[ -]2\.0\.0 queued as (\S+)")


class SwaksResult:
    def __init__(self, rc, transcript):
        self.rc = rc
        self.transcript = transcript

    def queue_ids(self):
        return QUEUED.findall(self.transcript)

    def tls(self):
        """(version, cipher) from '=== TLS started with cipher TLSv1.3:TLS_AES_256_GCM_SHA384:256'."""
        m = re.search(r"TLS started with cipher (TLSv[\d.]+):([^:\s]+)", self.transcript)
        return (m.group(1), m.group(2)) if m else None

    def has(self, text):
        return text in self.transcript

    def server_lines(self):
        return [l for l in self.transcript.splitlines() if l.startswith(("<-", "<~", "<**", "<~*"))]

    def tail(self, n=6):
        return " | ".join(l.strip() for l in self.transcript.splitlines()[-n:])


def swaks(ctx, port, *args, body=None, timeout=60):
    """Runs swaks against our server; returns its exit code and transcript."""
    cmd = ["swaks", "--server", f"{ctx.server.address}:{port}", "--ehlo", "client.e2e.test",
           "--timeout", "20"]
    if body is not None:
        body_file = ctx.tmp / f"body-{random.randrange(16**8):08x}.txt"
        body_file.write_bytes(body)
        cmd += ["--body", str(body_file)]
    cmd += [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    transcript = (r.stdout + r.stderr).decode("utf-8", "replace")
    ctx.note_transcript(" ".join(cmd), transcript)
    return SwaksResult(r.returncode, transcript)


def swaks_tls_args(ctx):
    return ["--tls-verify", "--tls-ca-path", str(ctx.ca)]


def client_context(ctx):
    """What a careful user writes: verify the chain against our CA and the host name."""
    c = ssl.create_default_context(cafile=str(ctx.ca))
    assert c.check_hostname and c.verify_mode == ssl.CERT_REQUIRED
    return c


def node_binary():
    for candidate in ("/usr/bin/node", "/usr/bin/nodejs"):
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("node")


def nodemailer(ctx, options, timeout=60):
    """Runs Tests/e2e/lib/nodemailer-send.js with `options` (JSON); returns its JSON answer."""
    node = node_binary()
    check(node, "no node binary (install Debian's nodejs: scripts/install-test-deps)")
    env = dict(os.environ, NODE_PATH="/usr/share/nodejs")
    r = subprocess.run([node, str(E2E_DIR / "lib" / "nodemailer-send.js")], input=json.dumps(options),
                       capture_output=True, text=True, timeout=timeout, env=env)
    ctx.note_transcript(f"{node} nodemailer-send.js {json.dumps(options)}", r.stdout + r.stderr)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Fail(f"nodemailer script exited {r.returncode}: {(r.stderr or r.stdout).strip()[-400:]}")


class RawSMTP:
    """A hand-driven SMTP session for what no installed client can do (BDAT)."""

    def __init__(self, address, port, timeout=20, source=None):
        self.sock = socket.create_connection((address, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        """Reads one (possibly multi-line) reply; returns (code, [texts])."""
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"connection closed; partial reply {self.buffer!r}")
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            text = line.decode("utf-8", "replace")
            lines.append(text[4:])
            if text[3:4] != "-":
                return int(text[:3]), lines

    def command(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def starttls(self, ca, server_hostname):
        code, text = self.command("STARTTLS")
        check(code == 220, f"STARTTLS answered {code} {text}")
        c = ssl.create_default_context(cafile=str(ca))
        self.sock = c.wrap_socket(self.sock, server_hostname=server_hostname)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
