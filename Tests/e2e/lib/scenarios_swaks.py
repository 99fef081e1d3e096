"""swaks against each listener, and BDAT through a raw socket.

Debian 12's swaks (20201014) has no BDAT/CHUNKING support, so the BDAT
scenario drives the protocol by hand (RFC 3030) with a socket.
"""

import ssl
import time

from harness import (USERS, Fail, RawSMTP, await_delivery, check, check_delivered_basics, collect, marker, swaks,
                     swaks_tls_args)
from registry import scenario

ALICE, BOB = "alice@e2e.test", "bob@e2e.test"

# Dot-stuffing both ways, a line of 998 octets (the longest allowed), tabs,
# trailing blanks and a line that looks like the end of data.
BODY = (b"first line\n"
        b".leading dot\n"
        b"..two dots\n"
        b".\n"
        b"after a lone dot\n"
        + b"x" * 998 + b"\n"
        b"trailing blanks   \n"
        b"\ttab-indented\n"
        b"last line\n")


def check_swaks_body(d, body):
    # swaks ends the message with an extra blank line or two of its own.
    check(d.body.rstrip(b"\n") == body.rstrip(b"\n"),
          f"{d.describe()}: body differs from what swaks sent: {d.body[:120]!r}…")


def one_queue_id(r):
    ids = r.queue_ids()
    check(r.rc == 0, f"swaks exited {r.rc}: {r.tail()}")
    check(len(ids) == 1, f"expected one '250 2.0.0 queued as <id>', transcript has {ids}: {r.tail()}")
    return ids[0]


def auth_args(user=ALICE, mechanism="PLAIN", password=None):
    return ["--auth", mechanism, "--auth-user", user,
            "--auth-password", USERS[user] if password is None else password]


@scenario("swaks-mx-plain")
def mx_plain(ctx):
    """Port 25 without TLS: delivered with Return-Path, Delivered-To and a Received 'with ESMTP', no TLS clause."""
    mark = marker("mx-plain")
    r = swaks(ctx, 25, "--to", ALICE, "--from", "sender@example.org", "--header", f"Subject: {mark}", body=BODY)
    qid = one_queue_id(r)
    check(r.tls() is None, "swaks started TLS without being asked")
    d = await_delivery(ctx.server, mark, {ALICE: 1})[ALICE][0]
    check_delivered_basics(d, return_path="sender@example.org", delivered_to=ALICE, protocol="ESMTP",
                           helo="client.e2e.test")
    check(d.queue_id == qid, f"Received id {d.queue_id} is not the queue id {qid} of the 250 reply")
    check(d.header("Subject") == mark, f"Subject {d.header('Subject')!r}")
    check_swaks_body(d, BODY)
    return f"queued as {qid}"


@scenario("swaks-mx-starttls")
def mx_starttls(ctx):
    """Port 25 with STARTTLS (-tls, certificate verified): Received says ESMTPS and the negotiated TLS version and cipher."""
    mark = marker("mx-starttls")
    r = swaks(ctx, 25, "-tls", *swaks_tls_args(ctx), "--to", ALICE, "--from", "sender@example.org",
              "--header", f"Subject: {mark}", body=BODY)
    one_queue_id(r)
    tls = r.tls()
    check(tls, f"no TLS in the swaks transcript: {r.tail()}")
    d = await_delivery(ctx.server, mark, {ALICE: 1})[ALICE][0]
    check_delivered_basics(d, return_path="sender@example.org", delivered_to=ALICE, protocol="ESMTPS", tls=tls)
    check_swaks_body(d, BODY)
    return f"{tls[0]} {tls[1]}"


@scenario("swaks-submission-auth-plain")
def submission_plain(ctx):
    """Port 587, STARTTLS then AUTH PLAIN: 235, delivered with 'ESMTPSA'; the log records the user, not the password."""
    mark = marker("sub-plain")
    r = swaks(ctx, 587, "-tls", *swaks_tls_args(ctx), *auth_args(ALICE, "PLAIN"), "--to", BOB, "--from", ALICE,
              "--header", f"Subject: {mark}", body=BODY)
    one_queue_id(r)
    check(r.has("235 2.7.0"), f"no 235 2.7.0 after AUTH PLAIN: {r.tail()}")
    d = await_delivery(ctx.server, mark, {BOB: 1})[BOB][0]
    check_delivered_basics(d, return_path=ALICE, delivered_to=BOB, protocol="ESMTPSA", tls=r.tls())
    check_swaks_body(d, BODY)
    log = ctx.server.log()
    check("AUTH succeeded" in log and "user=alice@e2e.test" in log, "no 'AUTH succeeded … user=alice@e2e.test' log line")
    check(USERS[ALICE] not in log, "the password appears in the server log")


@scenario("swaks-submission-auth-login")
def submission_login(ctx):
    """Port 587, STARTTLS then AUTH LOGIN (334 prompts): delivered with 'ESMTPSA'."""
    mark = marker("sub-login")
    r = swaks(ctx, 587, "-tls", *swaks_tls_args(ctx), *auth_args(BOB, "LOGIN"), "--to", ALICE, "--from", BOB,
              "--header", f"Subject: {mark}", body=BODY)
    one_queue_id(r)
    check(r.has("AUTH LOGIN") and r.has("334 "), f"no AUTH LOGIN dialogue: {r.tail()}")
    check(r.has("235 2.7.0"), f"no 235 2.7.0 after AUTH LOGIN: {r.tail()}")
    d = await_delivery(ctx.server, mark, {ALICE: 1})[ALICE][0]
    check_delivered_basics(d, return_path=BOB, delivered_to=ALICE, protocol="ESMTPSA", tls=r.tls())
    check_swaks_body(d, BODY)


@scenario("swaks-submissions-implicit-tls")
def submissions_tlsc(ctx):
    """Port 465 with TLS from the first byte (--tlsc): banner inside TLS, AUTH offered at once, 'ESMTPSA'."""
    mark = marker("subs-tlsc")
    r = swaks(ctx, 465, "--tlsc", *swaks_tls_args(ctx), *auth_args(ALICE, "PLAIN"), "--to", BOB,
              "--from", ALICE, "--header", f"Subject: {mark}", body=BODY)
    one_queue_id(r)
    lines = r.transcript.splitlines()
    tls_at = next((i for i, l in enumerate(lines) if "TLS started" in l), None)
    banner_at = next((i for i, l in enumerate(lines) if "220 " in l and "ESMTP" in l), None)
    check(tls_at is not None and banner_at is not None and tls_at < banner_at,
          "the 220 banner did not come inside TLS")
    check(not r.has("STARTTLS"), "STARTTLS offered or used on the implicit-TLS port")
    d = await_delivery(ctx.server, mark, {BOB: 1})[BOB][0]
    check_delivered_basics(d, return_path=ALICE, delivered_to=BOB, protocol="ESMTPSA", tls=r.tls())
    check_swaks_body(d, BODY)


@scenario("swaks-pipelining")
def pipelining(ctx):
    """--pipeline on 587 (STARTTLS+AUTH): MAIL, both RCPTs and DATA go out in one batch, then five replies; both delivered."""
    mark = marker("pipeline")
    r = swaks(ctx, 587, "-tls", *swaks_tls_args(ctx), *auth_args(ALICE, "PLAIN"), "--pipeline",
              "--to", f"{ALICE},{BOB}", "--from", ALICE, "--header", f"Subject: {mark}", body=BODY)
    one_queue_id(r)
    check(r.has("PIPELINING"), "PIPELINING not advertised")
    lines = [l.strip() for l in r.transcript.splitlines()]
    mail_at = next(i for i, l in enumerate(lines) if l.endswith(f"MAIL FROM:<{ALICE}>"))
    batch = lines[mail_at:mail_at + 4]
    check([l.split(None, 1)[1].split(":")[0] for l in batch] == ["MAIL FROM", "RCPT TO", "RCPT TO", "DATA"],
          f"swaks did not pipeline MAIL/RCPT/RCPT/DATA: {batch}")
    replies = [l.split(None, 1)[1][:9] for l in lines[mail_at + 4:mail_at + 8]]
    check(replies == ["250 2.1.0", "250 2.1.5", "250 2.1.5", "354 end d"], f"pipelined replies {replies}")
    found = await_delivery(ctx.server, mark, {ALICE: 1, BOB: 1})
    for who in (ALICE, BOB):
        d = found[who][0]
        check_delivered_basics(d, return_path=ALICE, delivered_to=who, protocol="ESMTPSA", tls=r.tls())
        check("for <" not in d.header("Received"), "Received names one recipient of a two-recipient message")
        check_swaks_body(d, BODY)


@scenario("raw-bdat-chunking")
def bdat(ctx):
    """BDAT (RFC 3030) by raw socket — Debian's swaks 20201014 has no BDAT: CHUNKING advertised; three chunks
    split inside a CRLF; a lone '.' line and CRLF.CRLF inside a chunk are data, not the end; delivered byte-exact."""
    mark = marker("bdat")
    message = (f"From: raw@example.org\r\nTo: {ALICE}\r\nSubject: {mark}\r\n\r\n"
               "chunk one line\r\n"
               ".\r\n"
               "a line after a lone dot (not an end of data in BDAT)\r\n"
               "..two dots stay two dots\r\n"
               "end of the body\r\n").encode()
    # Cut so that one chunk ends in CR and the next begins with LF.
    cut1 = message.index(b"chunk one line\r\n") + len(b"chunk one line\r")
    cut2 = message.index(b"..two dots")
    chunks = [message[:cut1], message[cut1:cut2], message[cut2:]]
    s = RawSMTP(ctx.server.address, 25)
    try:
        code, _ = s.reply()
        check(code == 220, f"banner {code}")
        code, ext = s.command("EHLO raw.e2e.test")
        check(code == 250 and "CHUNKING" in ext, f"EHLO {code}, CHUNKING not advertised: {ext}")
        code, text = s.command("MAIL FROM:<raw@example.org>")
        check(code == 250, f"MAIL {code} {text}")
        code, text = s.command(f"RCPT TO:<{ALICE}>")
        check(code == 250, f"RCPT {code} {text}")
        for i, chunk in enumerate(chunks):
            last = " LAST" if i == len(chunks) - 1 else ""
            s.send(f"BDAT {len(chunk)}{last}\r\n".encode() + chunk)
            code, text = s.reply()
            check(code == 250, f"BDAT chunk {i + 1} answered {code} {text}")
        check(text and text[0].startswith("2.0.0 queued as "), f"last BDAT answered {text}")
        qid = text[0].split()[-1]
        code, _ = s.command("QUIT")
    finally:
        s.close()
    d = await_delivery(ctx.server, mark, {ALICE: 1})[ALICE][0]
    check_delivered_basics(d, return_path="raw@example.org", delivered_to=ALICE, protocol="ESMTP")
    check(d.queue_id == qid, f"Received id {d.queue_id}, 250 said {qid}")
    expected_body = message.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")
    check(d.body == expected_body, f"body {d.body!r} != {expected_body!r}")
    return "3 chunks, byte-exact"


@scenario("raw-starttls-injection")
def starttls_injection(ctx):
    """'STARTTLS\\r\\nNOOP\\r\\n' in one write: the NOOP sent in plaintext must not be answered inside TLS
    (CVE-2011-0411 class). Refusing the STARTTLS or closing the connection is safe too."""
    s = RawSMTP(ctx.server.address, 25)
    try:
        s.reply()
        s.command("EHLO raw.e2e.test")
        s.send(b"STARTTLS\r\nNOOP\r\n")
        try:
            code, text = s.reply()
        except ConnectionError:
            return "connection closed (safe)"
        if code != 220:
            check(400 <= code < 600, f"STARTTLS answered {code} {text}")
            return f"STARTTLS refused with {code} (safe)"
        c = ssl.create_default_context(cafile=str(ctx.ca))
        try:
            s.sock = c.wrap_socket(s.sock, server_hostname=ctx.server.address)
        except (ssl.SSLError, ConnectionError) as e:
            return f"TLS handshake refused (safe): {e}"
        s.buffer = b""
        s.sock.settimeout(0.5)
        try:
            early = s.sock.recv(4096)
        except (TimeoutError, ssl.SSLError, OSError):
            early = b""
        check(not early, f"the server answered the injected NOOP inside TLS: {early!r}")
        s.sock.settimeout(10)
        code, text = s.command("EHLO raw.e2e.test")
        check(code == 250 and text[0].startswith("mx.e2e.test"), f"EHLO after STARTTLS answered {code} {text}")
        check("STARTTLS" not in text, "STARTTLS still offered inside TLS")
        return "injected NOOP discarded"
    finally:
        s.close()


@scenario("raw-client-drops-mid-data")
def client_drops(ctx):
    """A client that vanishes inside DATA — mid-line, right after CRLF '.', after CRLF '.' CR — gets nothing delivered or
    queued (the end of data is CRLF.CRLF, never EOF); a complete message sent afterwards is delivered."""
    server = ctx.server
    cuts = {"mid-line": b"half a li", "after-dot": b"\r\n.", "after-dot-cr": b"\r\n.\r"}
    marks = {}
    for name, tail in cuts.items():
        mark = marks[name] = marker(f"drop-{name}")
        src = ctx.source(f"drop-{name}")
        s = RawSMTP(server.address, 25, source=src)
        try:
            s.reply()
            s.command("EHLO drop.e2e.test")
            check(s.command("MAIL FROM:<drop@example.org>")[0] == 250, "MAIL refused")
            check(s.command(f"RCPT TO:<{ALICE}>")[0] == 250, "RCPT refused")
            check(s.command("DATA")[0] == 354, "DATA refused")
            s.send(f"Subject: {mark}\r\n\r\nfirst line\r\n".encode() + tail)
        finally:
            s.close()
        closed = f"client={src} listener=mx messages=0"
        for _ in range(200):
            if closed in server.log():
                break
            time.sleep(0.05)
        else:
            raise Fail(f"{name}: no 'connection closed … messages=0' log line for {src} within 10 s: "
                       + server.log_tail(3))
    sync = marker("drop-sync")
    r = swaks(ctx, 25, "--to", ALICE, "--from", "drop@example.org", "--header", f"Subject: {sync}")
    check(r.rc == 0, f"the message after the drops was refused: {r.tail()}")
    await_delivery(server, sync, {ALICE: 1})
    for name, mark in marks.items():
        check(not collect(server, mark), f"{name}: the truncated message was delivered")
        spooled = [f.name for f in server.spool_env.iterdir() if mark.encode() in f.read_bytes()]
        check(not spooled, f"{name}: the truncated message is in the spool: {spooled}")
