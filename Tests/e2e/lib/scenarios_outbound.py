"""Outbound delivery: Tern sending mail itself, to real peers found through a
real DNS server.

The world (one fixture, started on first use, stopped with the run):

  nsd on 127.0.0.1:<free port> with the zones below; every Tern that sends
  is configured with `[dns] nameservers = ["127.0.0.1:<port>"]`.

  subnet .60  "out": the Tern under test — e2e.test (alice, bob), ports 25/587/465,
              `[delivery] mx_port = 25`, `source_address = <subnet>.61`
         .62  Postfix, mx.b.test: the MX of b.test (bob@b.test → Maildir), STARTTLS
              logged; routes e2e.test to [.60]:25 for mail in the other direction
         .63  a second Tern, mx.c.test: the MX of c.test (carol@c.test)
         .64  scripted mx1.pref.test (MX 10)     .65  scripted mx2.pref.test (MX 20)
         .66  nothing listens: mx1.fallback.test (MX 10)
         .67  scripted mx2.fallback.test (MX 20)
         .68  scripted mx.busy.test: greets with 421 (MX 10 of busy.test)
         .69  scripted mx2.busy.test (MX 20)
         .74  scripted mx.retry.test: RCPT 451 once, then 250
         .75  scripted mx.reject.test: RCPT 550 5.1.1
              nullmx.test: MX 0 "." (RFC 7505)
         .70  "relay": a Tern whose 587 requires AUTH (user alice@e2e.test with a
              relay password; local domain relay.test with carol@relay.test)
         .71  scripted mx.relay.test: the direct route a relayed message must not take
         .72  "out-relay": a Tern like "out" but with `relay = "<.70>:587"`,
              `relay_username`, `relay_password_file`, source address .73
         .76  "out-relay465": the same with `relay = "<.70>:465"`, source address .77
         .78  scripted mx.reuse.test: counts connections for the reuse scenario

Configuration used (DESIGN.md "Configuration shape" plus Tern's own keys):
`[dns] nameservers`, `[delivery] mx_port`, `source_address`, `retry_min`
(2 s, so the 4xx scenario retries quickly), `relay`, `relay_username`,
`relay_password_file` and `relay_ca_file` (the relay's certificate is
self-signed by this run).
"""

import email
import email.policy
import smtplib
import ssl
import subprocess

from dnsserver import NSD, zone_text
from harness import (DOMAIN, HOSTNAME, TERN, USERS, Fail, Server, add_users, await_delivery, check,
                     check_delivered_basics, collect, deadline_loop, make_certificate, marker, port_free)
from postfixpeer import PostfixPeer
from registry import scenario
from scriptedpeer import ScriptedPeer

ALICE, BOB = "alice@e2e.test", "bob@e2e.test"
RELAY_USER, RELAY_PASSWORD = ALICE, "relay-Secret-9"
DELIVERY_TIMEOUT = 30          # a first attempt should be well within this
RETRY_TIMEOUT = 30             # the first retry comes after retry_min (2 s here, minus jitter)
RETRY_SETTINGS = {"retry_min": "2s"}

HOSTS = {"out": 60, "out-source": 61, "postfix": 62, "tern-c": 63, "mx1.pref": 64, "mx2.pref": 65,
         "mx1.fallback": 66, "mx2.fallback": 67, "mx1.busy": 68, "mx2.busy": 69, "relay": 70,
         "mx.relay": 71, "out-relay": 72, "out-relay-source": 73, "mx.retry": 74, "mx.reject": 75,
         "out-relay465": 76, "out-relay465-source": 77, "mx.reuse": 78}


class World:
    """Everything the outbound scenarios talk to; stop() ends all of it."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.root = ctx.tmp / "outbound"
        self.root.mkdir(exist_ok=True)
        self.ip = {name: f"{ctx.subnet}.{n}" for name, n in HOSTS.items()}
        self.parts = []
        self.peers = {}

    def host(self, name):
        return self.ip[name]

    def reverse_zone(self):
        """The in-addr.arpa zone of the run's /24."""
        return ".".join(reversed(self.ctx.subnet.split("."))) + ".in-addr.arpa"

    def zones(self):
        ip = self.ip
        return {
            "b.test": zone_text("b.test", [("@", "MX", 10, "mx.b.test."), ("mx", "A", ip["postfix"])]),
            "c.test": zone_text("c.test", [("@", "MX", 10, "mx.c.test."), ("mx", "A", ip["tern-c"])]),
            # Listed worst first: the order of the answer must not matter.
            "pref.test": zone_text("pref.test", [("@", "MX", 20, "mx2"), ("@", "MX", 10, "mx1"),
                                                 ("mx1", "A", ip["mx1.pref"]), ("mx2", "A", ip["mx2.pref"])]),
            "fallback.test": zone_text("fallback.test", [("@", "MX", 10, "mx1"), ("@", "MX", 20, "mx2"),
                                                         ("mx1", "A", ip["mx1.fallback"]),
                                                         ("mx2", "A", ip["mx2.fallback"])]),
            "busy.test": zone_text("busy.test", [("@", "MX", 10, "mx"), ("@", "MX", 20, "mx2"),
                                                 ("mx", "A", ip["mx1.busy"]), ("mx2", "A", ip["mx2.busy"])]),
            "retry.test": zone_text("retry.test", [("@", "MX", 10, "mx"), ("mx", "A", ip["mx.retry"])]),
            "reject.test": zone_text("reject.test", [("@", "MX", 10, "mx"), ("mx", "A", ip["mx.reject"])]),
            "nullmx.test": zone_text("nullmx.test", [("@", "MX", 0, "."),
                                                     # an A record too: a null MX must win over it
                                                     ("@", "A", ip["mx.reject"])]),
            "relay.test": zone_text("relay.test", [("@", "MX", 10, "mx"), ("mx", "A", ip["mx.relay"])]),
            "reuse.test": zone_text("reuse.test", [("@", "MX", 10, "mx"), ("mx", "A", ip["mx.reuse"])]),
            # The sending Tern's name, both ways, for the receiving Tern's Received field;
            # SPF for its source addresses, DMARC p=reject, and the DKIM keys `tern dkim keygen` made.
            "e2e.test": zone_text("e2e.test", [
                ("mx", "A", ip["out-source"]),
                ("@", "TXT", f"v=spf1 ip4:{ip['out-source']} ip4:{ip['out-relay-source']} "
                             f"ip4:{ip['out-relay465-source']} -all"),
                ("_dmarc", "TXT", "v=DMARC1; p=reject")]) + "".join(line + "\n" for line in self.dkim_records),
            self.reverse_zone(): zone_text(self.reverse_zone(),
                                           [(ip["out-source"].rsplit(".", 1)[1], "PTR", f"{HOSTNAME}.")]),
        }

    def start(self):
        ctx, ip, root = self.ctx, self.ip, self.root
        busy = [f"{a}:25" for name, a in ip.items() if not name.endswith("source") and not port_free(a, 25)]
        check(not busy, f"addresses of the outbound world already in use: {busy}")
        # DKIM keys for e2e.test, made by the CLI an administrator uses; its
        # printed zone lines go into the test zone.
        self.dkim_keys = root / "dkim"
        self.dkim_records = []
        for algorithm, selector in (("rsa", "rsa1"), ("ed25519", "ed1")):
            made = subprocess.run([str(TERN), "dkim", "keygen", DOMAIN, "--selector", selector, "--algorithm",
                                   algorithm, "--keys", str(self.dkim_keys)], capture_output=True, text=True,
                                  timeout=60)
            check(made.returncode == 0, f"tern dkim keygen failed: {made.stderr}")
            record = [line for line in made.stdout.splitlines() if not line.startswith(";")]
            check(record and record[0].startswith(f"{selector}._domainkey.{DOMAIN}. IN TXT"),
                  f"tern dkim keygen printed no record: {made.stdout!r}")
            key_file = self.dkim_keys / DOMAIN / f"{selector}.key"
            check(key_file.exists() and key_file.stat().st_mode & 0o077 == 0, f"{key_file} missing or readable by others")
            self.dkim_records.append("\n".join(record))
        self.dns = self.add(NSD(root / "dns", self.zones()))
        self.dns.start()
        self.out_cert, self.out_key = make_certificate(root, [ip["out"], ip["out-relay"], ip["out-relay465"]],
                                                   stem="out-")
        # The Tern under test.
        self.out = self.add(Server(root / "out", ip["out"], self.out_cert, self.out_key, ctx.users_file,
                                   ctx.aliases_file, name="tern (out)", settings={
                                       "dns": {"nameservers": [self.dns.nameserver]},
                                       "delivery": dict({"mx_port": 25, "source_address": ip["out-source"]},
                                                    **RETRY_SETTINGS),
                                       "dkim": {"keys": str(self.dkim_keys)}}))
        self.out.start()
        # Postfix, the MX of b.test, and the sender of mail to e2e.test.
        self.postfix = self.add(PostfixPeer(root / "postfix", ip["postfix"], hostname="mx.b.test",
                                            mailboxes=["bob@b.test"],
                                            transports={DOMAIN: f"smtp:[{ip['out']}]:25"}))
        self.postfix.start()
        # A second Tern, the MX of c.test.
        c_cert, c_key = make_certificate(root, [ip["tern-c"]], hostname="mx.c.test", stem="c-")
        c_users, c_aliases = root / "c-users", root / "c-aliases"
        add_users(c_users, {"carol@c.test": "carol-pw-c"})
        c_aliases.write_text("postmaster: carol@c.test\n")
        self.tern_c = self.add(Server(root / "tern-c", ip["tern-c"], c_cert, c_key, c_users, c_aliases,
                                      name="tern (mx.c.test)", hostname="mx.c.test", domains=["c.test"],
                                      ports=(25,), settings={"dns": {"nameservers": [self.dns.nameserver],
                                                                     "reverse_lookup": True},
                                                             "checks": {"spf": "annotate", "dkim": "verify",
                                                                        "dmarc": "enforce"}}))
        self.tern_c.start()
        # Scripted MXs.
        peer_cert, peer_key = make_certificate(root, [ip[n] for n in HOSTS if n.startswith("mx")],
                                               hostname="mx.peer.test", stem="peer-")
        tls = (peer_cert, peer_key)
        for name, hostname, replies in [
                ("mx1.pref", "mx1.pref.test", {}), ("mx2.pref", "mx2.pref.test", {}),
                ("mx2.fallback", "mx2.fallback.test", {}),
                ("mx1.busy", "mx.busy.test", {"CONNECT": "421 4.3.2 mx.busy.test busy, try another MX"}),
                ("mx2.busy", "mx2.busy.test", {}),
                ("mx.retry", "mx.retry.test", {"RCPT": ["451 4.3.0 try again later", "250 2.1.5 ok"]}),
                ("mx.reject", "mx.reject.test", {"RCPT": "550 5.1.1 <nobody@reject.test>: no such user here"}),
                ("mx.relay", "mx.relay.test", {}), ("mx.reuse", "mx.reuse.test", {})]:
            self.peers[name] = self.add(ScriptedPeer(ip[name], hostname=hostname, replies=replies, tls=tls,
                                                     name=hostname))
            self.peers[name].start()
        # The relay: a Tern whose submission port requires AUTH.
        relay_cert, relay_key = make_certificate(root, [ip["relay"]], hostname="relay.relay.test", stem="relay-")
        r_users, r_aliases = root / "relay-users", root / "relay-aliases"
        add_users(r_users, {RELAY_USER: RELAY_PASSWORD, "carol@relay.test": "carol-pw-r"})
        r_aliases.write_text("postmaster: carol@relay.test\n")
        self.relay = self.add(Server(root / "relay", ip["relay"], relay_cert, relay_key, r_users, r_aliases,
                                     name="tern (relay)", hostname="relay.relay.test", domains=["relay.test"],
                                     ports=(25, 587, 465)))
        self.relay.start()
        self.relay_ca = relay_cert
        password_file = root / "relay-password"
        password_file.write_text(RELAY_PASSWORD + "\n")
        password_file.chmod(0o600)
        self.out_relay = self.add(Server(root / "out-relay", ip["out-relay"], self.out_cert, self.out_key,
                                         ctx.users_file, ctx.aliases_file, name="tern (out, relay mode)", settings={
                                             "dns": {"nameservers": [self.dns.nameserver]},
                                             "delivery": dict({"mx_port": 25,
                                                               "source_address": ip["out-relay-source"],
                                                               "relay": f"{ip['relay']}:587",
                                                               "relay_username": RELAY_USER,
                                                               "relay_password_file": str(password_file),
                                                               # the relay's certificate is this run's own
                                                               "relay_ca_file": str(relay_cert)})}))
        self.out_relay.start()
        # The same through the relay's port 465 (TLS from the first byte).
        self.out_relay465 = self.add(Server(root / "out-relay465", ip["out-relay465"], self.out_cert, self.out_key,
                                            ctx.users_file, ctx.aliases_file, name="tern (out, relay 465)",
                                            settings={
                                                "dns": {"nameservers": [self.dns.nameserver]},
                                                "delivery": {"mx_port": 25,
                                                             "source_address": ip["out-relay465-source"],
                                                             "relay": f"{ip['relay']}:465",
                                                             "relay_username": RELAY_USER,
                                                             "relay_password_file": str(password_file),
                                                             "relay_ca_file": str(relay_cert)}}))
        self.out_relay465.start()
        return self

    def add(self, part):
        self.parts.append(part)
        return part

    def stop(self):
        for part in reversed(self.parts):
            try:
                part.stop()
            except Exception:  # noqa: BLE001 - stop the others anyway
                pass

    kill9 = stop  # Context.stop_all falls back to kill9()


def world(ctx):
    w = ctx.state.get("outbound")
    if w is None:
        w = World(ctx)
        ctx.state["outbound"] = w
        ctx.servers.append(w)
        try:
            w.start()
        except Exception as e:
            ctx.state["outbound-error"] = f"{type(e).__name__}: {e}"
            raise
    if ctx.state.get("outbound-error"):
        raise Fail(f"the outbound world did not start: {ctx.state['outbound-error']}")
    return w


# MARK: Helpers

def submit(w, server, sender, recipients, mark, body="Outbound test.\r\n", extra_headers=""):
    """alice/bob on `server`:587 with STARTTLS (certificate verified) and AUTH; returns the message."""
    message = (f"From: {sender}\r\nTo: {', '.join(recipients)}\r\nSubject: {mark}\r\n"
               f"Message-ID: <{mark}@e2e.test>\r\n{extra_headers}\r\n{body}").encode()
    context = ssl.create_default_context(cafile=str(w.out_cert))
    with smtplib.SMTP(server.address, 587, local_hostname="client.e2e.test", timeout=30) as s:
        s.starttls(context=context)
        s.login(sender, USERS[sender])
        refused = s.sendmail(sender, recipients, message)
        check(not refused, f"refused at RCPT: {refused}")
    return message


def wait_spool_empty(server, timeout):
    for _ in deadline_loop(timeout, 0.1):
        if not server.spool_ids():
            return
    raise Fail(f"{server.name}: spool/env still holds {sorted(server.spool_ids())} after {timeout} s\n"
               + server.log_tail())


def bounces_for(server, mailbox, mark):
    """Messages in `mailbox` on `server` that contain `mark` and have an empty Return-Path."""
    found = collect(server, mark).get(mailbox, [])
    return [d for d in found if d.header("Return-Path") == "<>"]


def wait_bounce(server, mailbox, mark, timeout):
    for _ in deadline_loop(timeout, 0.1):
        b = bounces_for(server, mailbox, mark)
        if b:
            return b
    raise Fail(f"no bounce containing {mark!r} in {mailbox}'s Maildir on {server.name} within {timeout} s\n"
               + server.log_tail())


def parse_dsn(delivered):
    """Checks a bounce is an RFC 3464 report and returns (message, per-message
    fields, [per-recipient fields]) as dicts with lower-case names."""
    msg = email.message_from_bytes(delivered.raw, policy=email.policy.compat32)
    where = delivered.describe()
    check(msg.get_content_type() == "multipart/report",
          f"{where}: Content-Type {msg.get_content_type()}, expected multipart/report")
    check((msg.get_param("report-type") or "").lower() == "delivery-status",
          f"{where}: report-type={msg.get_param('report-type')!r}, expected delivery-status")
    parts = msg.get_payload()
    check(isinstance(parts, list) and len(parts) >= 2, f"{where}: {len(parts) if isinstance(parts, list) else 0} parts")
    check(parts[0].get_content_maintype() == "text", f"{where}: first part is {parts[0].get_content_type()}")
    status = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    check(len(status) == 1, f"{where}: {len(status)} message/delivery-status parts")
    # email parses message/delivery-status into a list of header blocks.
    blocks = status[0].get_payload()
    check(isinstance(blocks, list) and len(blocks) >= 2,
          f"{where}: delivery-status has {len(blocks) if isinstance(blocks, list) else 0} field groups")
    lower = [{k.lower(): v.strip() for k, v in b.items()} for b in blocks]
    per_message, per_recipient = lower[0], lower[1:]
    check("reporting-mta" in per_message, f"{where}: no Reporting-MTA in {per_message}")
    for r in per_recipient:
        for field in ("final-recipient", "action", "status"):
            check(field in r, f"{where}: per-recipient fields lack {field}: {r}")
    originals = [p for p in parts if p.get_content_type() in ("message/rfc822", "text/rfc822-headers",
                                                                 "message/global", "message/global-headers")]
    check(originals, f"{where}: no part with the original message or its header")
    return msg, per_message, per_recipient


# MARK: Scenarios

@scenario("outbound-dns-zones")
def dns_zones(ctx):
    """The test DNS (nsd, rate limiting off) answers every zone authoritatively; pref.test has its two MXs and
    nullmx.test its null MX."""
    w = world(ctx)
    mx = sorted(w.dns.query("pref.test", "MX").values("MX"))
    check(mx == [(10, "mx1.pref.test."), (20, "mx2.pref.test.")], f"pref.test MX {mx}")
    null = w.dns.query("nullmx.test", "MX").values("MX")
    check(null == [(0, ".")], f"nullmx.test MX {null}")
    for _ in range(200):
        r = w.dns.query("mx.b.test", "A")
        check(r.values("A") == [w.host("postfix")], f"mx.b.test A {r}")
    return f"nsd on {w.dns.nameserver}"


@scenario("outbound-to-postfix-starttls")
def to_postfix(ctx):
    """alice submits on 587 to bob@b.test: Postfix (the MX of b.test) stores exactly one copy in bob's Maildir,
    received from Tern's source address over STARTTLS (Postfix logs the TLS connection and its Received says
    'using TLSv1.x'); Tern's spool is empty afterwards."""
    w = world(ctx)
    mark = marker("out-postfix")
    offset = w.postfix.log_offset()
    submit(w, w.out, ALICE, ["bob@b.test"], mark)
    raw = w.postfix.wait_for_message("bob@b.test", mark, timeout=DELIVERY_TIMEOUT)
    m = w.postfix.wait_for_log(rf"TLS connection established from \S*\[{w.host('out-source')}\]: (\S+) with cipher (\S+)",
                               since=offset)
    msg = email.message_from_bytes(raw)
    received = " ".join(msg.get_all("Received")[0].split())
    check(f"[{w.host('out-source')}]" in received and "using TLSv1." in received and "with ESMTPS" in received,
          f"Postfix's Received does not show a TLS session from {w.host('out-source')}: {received!r}")
    check(received.startswith(f"from {HOSTNAME} "), f"Tern should say EHLO {HOSTNAME}: {received!r}")
    check(msg["Return-Path"] == f"<{ALICE}>", f"Return-Path {msg['Return-Path']!r}")
    check(msg["Subject"] == mark, f"Subject {msg['Subject']!r}")
    wait_spool_empty(w.out, DELIVERY_TIMEOUT)
    w.postfix.wait_for_message("bob@b.test", mark, timeout=1)  # still exactly one copy
    return f"{m.group(1)} {m.group(2)}"


@scenario("inbound-from-postfix")
def from_postfix(ctx):
    """Postfix's sendmail, routed to Tern's MX for e2e.test: one copy in alice's Maildir, 'from mx.b.test' with
    ESMTPS (Postfix uses STARTTLS when offered), and Postfix logs status=sent."""
    w = world(ctx)
    mark = marker("in-postfix")
    offset = w.postfix.log_offset()
    w.postfix.sendmail("carol@b.test", [ALICE], f"From: carol@b.test\nTo: {ALICE}\nSubject: {mark}\n\nHello from Postfix.\n")
    d = await_delivery(w.out, mark, {ALICE: 1}, timeout=DELIVERY_TIMEOUT)[ALICE][0]
    check_delivered_basics(d, return_path="carol@b.test", delivered_to=ALICE, protocol="ESMTPS", helo="mx.b.test")
    check(f"[{w.host('postfix')}]" in d.header("Received"), f"Received {d.header('Received')!r}")
    w.postfix.wait_for_log(rf"to=<{ALICE}>, relay={w.host('out')}\[{w.host('out')}\]:25,.* status=sent", since=offset)
    w.postfix.wait_for_log(rf"TLS connection established to {w.host('out')}\[", since=offset)
    return f"queue id {d.queue_id}"


@scenario("outbound-to-tern-peer")
def to_tern(ctx):
    """alice → carol@c.test: the second Tern (the MX of c.test) delivers one copy, received from Tern's source
    address with ESMTPS; its Received names the client by its forward-confirmed reverse name."""
    w = world(ctx)
    mark = marker("out-tern")
    submit(w, w.out, ALICE, ["carol@c.test"], mark)
    d = await_delivery(w.tern_c, mark, {"carol@c.test": 1}, timeout=DELIVERY_TIMEOUT)["carol@c.test"][0]
    received = d.header("Received")
    # mx.c.test looks the client up: PTR of the source address → mx.e2e.test, whose A record points back.
    check(received.startswith(f"from {HOSTNAME} ({HOSTNAME} [{w.host('out-source')}])"),
          f"Received should name {HOSTNAME} ({HOSTNAME} [{w.host('out-source')}]): {received!r}")
    check("with ESMTPS" in received and "(using TLSv1." in received, f"not over TLS: {received!r}")
    check(d.header("Return-Path") == f"<{ALICE}>", f"Return-Path {d.header('Return-Path')!r}")
    # mx.c.test checks what arrives: SPF (the source address is listed), both DKIM signatures Tern made
    # with the keys `tern dkim keygen` wrote, and DMARC on the From domain.
    results = " ".join((d.header("Authentication-Results") or "").split())
    check(results.startswith("mx.c.test;"), f"Authentication-Results not by mx.c.test: {results!r}")
    for verdict in ("spf=pass", "dkim=pass header.d=e2e.test", "dmarc=pass"):
        check(verdict in results, f"Authentication-Results lacks {verdict!r}: {results!r}")
    check(results.count("dkim=pass") == 2, f"expected two passing signatures (RSA, Ed25519): {results!r}")
    wait_spool_empty(w.out, DELIVERY_TIMEOUT)
    return "spf, dkim ×2, dmarc pass"


@scenario("outbound-dmarc-reject-forgery")
def dmarc_forgery(ctx):
    """A message claiming alice@e2e.test sent straight to mx.c.test from an address outside e2e.test's SPF record
    and unsigned: DMARC p=reject → 550 5.7.1 at the end of DATA, nothing delivered."""
    w = world(ctx)
    mark = marker("forged")
    stranger = f"{ctx.subnet}.99"
    message = f"From: {ALICE}\r\nTo: carol@c.test\r\nSubject: {mark}\r\n\r\nnot really alice\r\n".encode()
    with smtplib.SMTP(w.host("tern-c"), 25, local_hostname="forger.example", timeout=30,
                      source_address=(stranger, 0)) as s:
        try:
            s.sendmail(ALICE, ["carol@c.test"], message)
            raise Fail("the forged message was accepted")
        except smtplib.SMTPDataError as e:
            check(e.smtp_code == 550 and b"5.7.1" in e.smtp_error, f"refused with {e.smtp_code} {e.smtp_error!r}")
    check(not collect(w.tern_c, mark), "the forged message was delivered")
    return "550 5.7.1"


@scenario("outbound-mx-preference")
def mx_preference(ctx):
    """pref.test publishes MX 20 mx2 and MX 10 mx1 (in that order): the message goes to mx1 once, mx2 sees no
    connection."""
    w = world(ctx)
    mark = marker("out-pref")
    mx1, mx2 = w.peers["mx1.pref"], w.peers["mx2.pref"]
    submit(w, w.out, ALICE, ["someone@pref.test"], mark)
    mx1.wait_for(lambda p: any(mark.encode() in (t.data or b"") for t in p.delivered()), DELIVERY_TIMEOUT,
                 "the message")
    wait_spool_empty(w.out, DELIVERY_TIMEOUT)
    got = [t for t in mx1.delivered() if mark.encode() in t.data]
    check(len(got) == 1, f"mx1 got {len(got)} copies")
    t = got[0]
    check(t.mail_from == ALICE and t.accepted_rcpts == ["someone@pref.test"], f"envelope {t}")
    check(t.client[0] == w.host("out-source"), f"connected from {t.client[0]}, not source_address "
                                                f"{w.host('out-source')}")
    check(t.tls is not None, "no STARTTLS although mx1 offered it")
    check(t.helo == HOSTNAME, f"EHLO {t.helo!r}")
    check(not mx2.connections, f"mx2 (MX 20) was contacted:\n{mx2.describe()}")
    return f"{t.tls[0]}"


@scenario("outbound-mx-fallback")
def mx_fallback(ctx):
    """fallback.test: MX 10 has nothing listening (connection refused), MX 20 is up: delivered once at MX 20
    in the first attempt."""
    w = world(ctx)
    mark = marker("out-fallback")
    mx2 = w.peers["mx2.fallback"]
    submit(w, w.out, ALICE, ["someone@fallback.test"], mark)
    mx2.wait_for(lambda p: any(mark.encode() in (t.data or b"") for t in p.delivered()), DELIVERY_TIMEOUT,
                 "the message")
    wait_spool_empty(w.out, DELIVERY_TIMEOUT)
    got = [t for t in mx2.delivered() if mark.encode() in t.data]
    check(len(got) == 1, f"mx2 got {len(got)} copies")


@scenario("outbound-mx-fallback-421")
def mx_fallback_421(ctx):
    """busy.test: MX 10 greets with 421, MX 20 accepts: delivered once at MX 20; MX 10 saw no MAIL FROM."""
    w = world(ctx)
    mark = marker("out-busy")
    mx1, mx2 = w.peers["mx1.busy"], w.peers["mx2.busy"]
    submit(w, w.out, ALICE, ["someone@busy.test"], mark)
    mx2.wait_for(lambda p: any(mark.encode() in (t.data or b"") for t in p.delivered()), DELIVERY_TIMEOUT,
                 "the message")
    wait_spool_empty(w.out, DELIVERY_TIMEOUT)
    check(len([t for t in mx2.delivered() if mark.encode() in t.data]) == 1, "not exactly one copy at MX 20")
    check(mx1.connections and not mx1.transactions, f"MX 10 should have been tried and given nothing:\n{mx1.describe()}")


@scenario("outbound-4xx-then-250")
def retry_after_4xx(ctx):
    """mx.retry.test answers the first RCPT with 451 and later ones with 250: after the retry there is exactly
    one delivered copy, two transactions in all, no bounce, and an empty spool."""
    w = world(ctx)
    mark = marker("out-retry")
    peer = w.peers["mx.retry"]
    submit(w, w.out, ALICE, ["someone@retry.test"], mark)
    peer.wait_for(lambda p: any(mark.encode() in (t.data or b"") for t in p.delivered()), RETRY_TIMEOUT,
                  "the retried message")
    wait_spool_empty(w.out, DELIVERY_TIMEOUT)
    delivered = [t for t in peer.delivered() if mark.encode() in t.data]
    check(len(delivered) == 1, f"{len(delivered)} copies delivered, expected exactly one")
    tries = [t for t in peer.transactions if t.mail_from == ALICE]
    check(len(tries) == 2, f"{len(tries)} transactions, expected 2 (451, then 250):\n{peer.describe()}")
    check(tries[0].rcpts[0][2].startswith("451") and tries[0].data is None, f"first transaction {tries[0]}")
    check(not bounces_for(w.out, ALICE, mark), "a bounce or delay notice reached alice")


@scenario("outbound-5xx-bounce")
def bounce_after_5xx(ctx):
    """mx.reject.test answers RCPT with 550 5.1.1: no DATA is sent, and alice gets a bounce (Return-Path <>) that
    parses as an RFC 3464 report: Action failed, Status 5.1.1, the remote diagnostic, the original attached."""
    w = world(ctx)
    mark = marker("out-reject")
    peer = w.peers["mx.reject"]
    submit(w, w.out, ALICE, ["nobody@reject.test"], mark)
    bounce = wait_bounce(w.out, ALICE, mark, DELIVERY_TIMEOUT)
    check(len(bounce) == 1, f"{len(bounce)} bounces")
    msg, per_message, recipients = parse_dsn(bounce[0])
    check(len(recipients) == 1, f"{len(recipients)} per-recipient groups")
    r = recipients[0]
    final = r["final-recipient"].lower().replace("; ", ";")  # RFC 3464 allows space after the ';'
    check(final == "rfc822;nobody@reject.test", f"Final-Recipient {r['final-recipient']!r}")
    check(r["action"].lower() == "failed", f"Action {r['action']!r}")
    check(r["status"] == "5.1.1", f"Status {r['status']!r}")
    check("550" in r.get("diagnostic-code", "") and r.get("diagnostic-code", "").lower().startswith("smtp;"),
          f"Diagnostic-Code {r.get('diagnostic-code')!r}")
    check("mx.reject.test" in r.get("remote-mta", "").lower(), f"Remote-MTA {r.get('remote-mta')!r}")
    check(not [t for t in peer.transactions if t.data is not None], "the peer was sent DATA after a 550 RCPT")
    wait_spool_empty(w.out, DELIVERY_TIMEOUT)
    return f"Status {r['status']}"


@scenario("outbound-null-mx-bounce")
def null_mx(ctx):
    """nullmx.test publishes 'MX 0 .' (RFC 7505) next to an A record: alice gets a bounce at once (within 10 s,
    Status 5.1.10), and nothing connects to the A record's address."""
    w = world(ctx)
    mark = marker("out-nullmx")
    before = len(w.peers["mx.reject"].connections)
    submit(w, w.out, ALICE, ["someone@nullmx.test"], mark)
    bounce = wait_bounce(w.out, ALICE, mark, 10)
    _, _, recipients = parse_dsn(bounce[0])
    r = recipients[0]
    check(r["action"].lower() == "failed", f"Action {r['action']!r}")
    check(r["status"] == "5.1.10", f"Status {r['status']!r}, expected 5.1.10 (RFC 7505)")
    check(len(w.peers["mx.reject"].connections) == before, "Tern connected to nullmx.test's A record")
    wait_spool_empty(w.out, DELIVERY_TIMEOUT)


@scenario("outbound-relay-auth")
def relay_host(ctx):
    """A Tern with `relay = <relay>:587` sends alice → carol@relay.test through the relay's AUTH-requiring
    submission port (the relay's Received says ESMTPSA from the sender's source address), and never directly:
    mx.relay.test, the domain's MX, sees no connection; a message to bob@b.test ends up queued on the relay,
    not at Postfix."""
    w = world(ctx)
    mark = marker("out-relay")
    offset = w.postfix.log_offset()
    submit(w, w.out_relay, ALICE, ["carol@relay.test", "bob@b.test"], mark)
    d = await_delivery(w.relay, mark, {"carol@relay.test": 1}, timeout=DELIVERY_TIMEOUT,
                       stays_queued=True)["carol@relay.test"][0]
    received = d.header("Received")
    check("with ESMTPSA" in received, f"the relay did not see an authenticated TLS session: {received!r}")
    check(f"[{w.host('out-relay-source')}]" in received, f"not from the source address: {received!r}")
    check(d.header("Return-Path") == f"<{ALICE}>", f"Return-Path {d.header('Return-Path')!r}")
    wait_spool_empty(w.out_relay, DELIVERY_TIMEOUT)
    check(not w.peers["mx.relay"].connections, f"mx.relay.test was contacted directly:\n{w.peers['mx.relay'].describe()}")
    check(w.host("out-relay-source") not in w.postfix.log()[offset:],
          "Postfix (the MX of b.test) saw a connection from the relay-mode Tern")
    check(not w.postfix.messages_with("bob@b.test", mark), "bob@b.test got the message directly")
    return f"relay queue holds {len(w.relay.spool_ids())} entr(y/ies) for b.test"


@scenario("outbound-relay-465")
def relay_host_465(ctx):
    """`relay = <relay>:465`: TLS from the first byte (no STARTTLS), AUTH, certificate checked; carol@relay.test
    receives it with ESMTPSA from the sender's source address."""
    w = world(ctx)
    mark = marker("out-relay465")
    submit(w, w.out_relay465, ALICE, ["carol@relay.test"], mark)
    d = await_delivery(w.relay, mark, {"carol@relay.test": 1}, timeout=DELIVERY_TIMEOUT)["carol@relay.test"][0]
    received = d.header("Received")
    check("with ESMTPSA" in received, f"not an authenticated TLS session: {received!r}")
    check(f"[{w.host('out-relay465-source')}]" in received, f"not from the source address: {received!r}")
    wait_spool_empty(w.out_relay465, DELIVERY_TIMEOUT)


@scenario("outbound-connection-reuse")
def connection_reuse(ctx):
    """Two messages to the same domain, the second submitted right after the first was delivered: both travel
    over one connection (Tern keeps it open a few seconds), each in its own transaction."""
    w = world(ctx)
    peer = w.peers["mx.reuse"]
    first, second = marker("out-reuse1"), marker("out-reuse2")
    before = len(peer.connections)
    submit(w, w.out, ALICE, ["one@reuse.test"], first)
    peer.wait_for(lambda p: any(first.encode() in (t.data or b"") for t in p.delivered()), DELIVERY_TIMEOUT,
                  "the first message")
    submit(w, w.out, ALICE, ["two@reuse.test"], second)
    peer.wait_for(lambda p: any(second.encode() in (t.data or b"") for t in p.delivered()), DELIVERY_TIMEOUT,
                  "the second message")
    wait_spool_empty(w.out, DELIVERY_TIMEOUT)
    opened = len(peer.connections) - before
    check(opened == 1, f"{opened} connections for two messages, expected 1 (reuse):\n{peer.describe()}")
    mine = [t for t in peer.transactions if t.mail_from == ALICE and t.data is not None
            and (first.encode() in t.data or second.encode() in t.data)]
    check(len(mine) == 2, f"{len(mine)} transactions, expected 2")
    return f"{opened} connection, {len(mine)} transactions"
