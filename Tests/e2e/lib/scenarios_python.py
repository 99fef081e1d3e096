"""Python's smtplib, written the way a user writes it, and the message-content cases."""

import email
import email.policy
import hashlib
import smtplib
import time
from email.message import EmailMessage

from harness import (DOMAIN, USERS, Fail, await_delivery, check, check_delivered_basics, client_context, collect,
                     marker)
from registry import scenario

ALICE, BOB = "alice@e2e.test", "bob@e2e.test"


def parsed(d):
    return email.message_from_bytes(d.raw, policy=email.policy.default)


def tls_of(smtp):
    return smtp.sock.version(), smtp.sock.cipher()[0]


@scenario("smtplib-submission-starttls")
def smtplib_starttls(ctx):
    """SMTP(host, 587) → starttls(context) with check_hostname → login() → send_message(): delivered, 'ESMTPSA', same TLS."""
    mark = marker("smtplib-587")
    msg = EmailMessage()
    msg["From"] = f"Alice <{ALICE}>"
    msg["To"] = f"Bob <{BOB}>"
    msg["Subject"] = f"Hello from smtplib {mark}"
    msg.set_content("Hi Bob,\n\nthis went through port 587 with STARTTLS.\n.\nA lone dot above.\n")
    with smtplib.SMTP(ctx.server.address, 587, timeout=20) as smtp:
        smtp.starttls(context=client_context(ctx))
        smtp.login(ALICE, USERS[ALICE])
        refused = smtp.send_message(msg)
        tls = tls_of(smtp)
    check(refused == {}, f"refused {refused}")
    d = await_delivery(ctx.server, mark, {BOB: 1})[BOB][0]
    check_delivered_basics(d, return_path=ALICE, delivered_to=BOB, protocol="ESMTPSA", tls=tls)
    got = parsed(d)
    check(got["Subject"] == msg["Subject"] and got["From"] == msg["From"], "From/Subject changed in transit")
    check(got.get_content() == msg.get_content(), f"content {got.get_content()!r}")
    return f"{tls[0]}"


@scenario("smtplib-submissions-tls")
def smtplib_ssl(ctx):
    """SMTP_SSL(host, 465, context) → login() → send_message(): delivered, 'ESMTPSA', same TLS."""
    mark = marker("smtplib-465")
    msg = EmailMessage()
    msg["From"] = BOB
    msg["To"] = ALICE
    msg["Subject"] = mark
    msg.set_content("Hi Alice, implicit TLS on 465.\n")
    with smtplib.SMTP_SSL(ctx.server.address, 465, context=client_context(ctx), timeout=20) as smtp:
        smtp.login(BOB, USERS[BOB])
        refused = smtp.send_message(msg)
        tls = tls_of(smtp)
    check(refused == {}, f"refused {refused}")
    d = await_delivery(ctx.server, mark, {ALICE: 1})[ALICE][0]
    check_delivered_basics(d, return_path=BOB, delivered_to=ALICE, protocol="ESMTPSA", tls=tls)
    check(parsed(d).get_content() == msg.get_content(), "content changed in transit")


def utf8_message(mark, sender, recipient):
    msg = EmailMessage(policy=email.policy.SMTPUTF8)
    msg["From"] = f"Zoë Ærø <{sender}>"
    msg["To"] = recipient
    msg["Subject"] = f"Grüße, 日本語, ☃ {mark}"
    msg.set_content("Hällo wörld — ☃ — 日本語のテキスト\n")
    return msg


def check_utf8_delivery(ctx, mark, msg, mailbox, return_path, delivered_to, protocol, tls):
    d = await_delivery(ctx.server, mark, {mailbox: 1})[mailbox][0]
    check_delivered_basics(d, return_path=return_path, delivered_to=delivered_to, protocol=protocol, tls=tls)
    raw_subject = f"Subject: {msg['Subject']}\n".encode()
    check(raw_subject in d.header_bytes, f"the UTF-8 Subject is not there as raw UTF-8: {d.header('Subject')!r}")
    check("☃ — 日本語のテキスト".encode() in d.body, f"UTF-8 body changed: {d.body!r}")
    return d


@scenario("smtputf8-local-user")
def smtputf8_local(ctx):
    """smtplib send_message(mail_options=['SMTPUTF8']) on 587 with raw UTF-8 header fields to alice: Received says
    'UTF8SMTPSA', Subject and body arrive as UTF-8 bytes."""
    mark = marker("utf8")
    msg = utf8_message(mark, ALICE, ALICE)
    with smtplib.SMTP(ctx.server.address, 587, timeout=20) as smtp:
        smtp.starttls(context=client_context(ctx))
        smtp.login(ALICE, USERS[ALICE])
        check(smtp.has_extn("smtputf8"), "SMTPUTF8 not advertised")
        refused = smtp.send_message(msg, mail_options=["SMTPUTF8"])
        tls = tls_of(smtp)
    check(refused == {}, f"refused {refused}")
    check_utf8_delivery(ctx, mark, msg, ALICE, ALICE, ALICE, "UTF8SMTPSA", tls)


@scenario("smtputf8-utf8-addresses")
def smtputf8_addresses(ctx):
    """UTF-8 envelope addresses (zoë@exämple.org → jürgen@e2e.test, an alias of bob) on port 25 with STARTTLS,
    smtplib adding SMTPUTF8 itself: Return-Path and Delivered-To keep the UTF-8, 'UTF8SMTPS'."""
    mark = marker("utf8-addr")
    sender, recipient = "zoë@exämple.org", f"jürgen@{DOMAIN}"
    msg = utf8_message(mark, sender, recipient)
    with smtplib.SMTP(ctx.server.address, 25, timeout=20) as smtp:
        smtp.starttls(context=client_context(ctx))
        refused = smtp.send_message(msg)
        tls = tls_of(smtp)
    check(refused == {}, f"refused {refused}")
    check_utf8_delivery(ctx, mark, msg, BOB, sender, recipient, "UTF8SMTPS", tls)


@scenario("smtputf8-utf8-addresses-mail-options")
def smtputf8_addresses_options(ctx):
    """The same UTF-8 envelope written as many users write it, send_message(msg, mail_options=['SMTPUTF8']):
    smtplib then sends 'SMTPUTF8' twice on MAIL FROM; it must still be accepted and delivered."""
    mark = marker("utf8-opt")
    sender, recipient = "zoë@exämple.org", f"jürgen@{DOMAIN}"
    msg = utf8_message(mark, sender, recipient)
    with smtplib.SMTP(ctx.server.address, 25, timeout=20) as smtp:
        smtp.starttls(context=client_context(ctx))
        try:
            refused = smtp.send_message(msg, mail_options=["SMTPUTF8"])
        except smtplib.SMTPSenderRefused as e:
            raise Fail(f"MAIL FROM:<{sender}> SMTPUTF8 SMTPUTF8 BODY=8BITMIME refused: {e.smtp_code} "
                       f"{e.smtp_error.decode(errors='replace')}")
        tls = tls_of(smtp)
    check(refused == {}, f"refused {refused}")
    check_utf8_delivery(ctx, mark, msg, BOB, sender, recipient, "UTF8SMTPS", tls)


@scenario("8bit-body")
def eight_bit(ctx):
    """BODY=8BITMIME on port 25: every octet 0x80–0xFF, Latin-1 and UTF-8 text, arrive unchanged (only CRLF → LF)."""
    mark = marker("8bit")
    high = bytes(range(0x80, 0x100))
    body = (b"Latin-1: caf\xe9 na\xefve \xa9\r\n"
            b"UTF-8: caf\xc3\xa9 \xe2\x98\x83\r\n"
            + high[:64] + b"\r\n" + high[64:] + b"\r\n"
            b"end\r\n")
    message = (f"From: eight@example.org\r\nTo: {ALICE}\r\nSubject: {mark}\r\n"
               "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
               "Content-Transfer-Encoding: 8bit\r\n\r\n").encode() + body
    with smtplib.SMTP(ctx.server.address, 25, timeout=20) as smtp:
        smtp.starttls(context=client_context(ctx))
        smtp.ehlo()
        check(smtp.has_extn("8bitmime"), "8BITMIME not advertised")
        refused = smtp.sendmail("eight@example.org", [ALICE], message, mail_options=["BODY=8BITMIME"])
    check(refused == {}, f"refused {refused}")
    d = await_delivery(ctx.server, mark, {ALICE: 1})[ALICE][0]
    check_delivered_basics(d, return_path="eight@example.org", delivered_to=ALICE, protocol="ESMTPS")
    expected = body.replace(b"\r\n", b"\n")
    check(d.body == expected, f"8-bit body changed: {d.body!r}")


@scenario("large-1mb")
def large(ctx):
    """A 1 MiB body over 465 (TLS, AUTH), with lines that start with '.', arrives byte-exact (SHA-256)."""
    mark = marker("1mb")
    lines, size, i = [], 0, 0
    while size < 1024 * 1024:
        digest = hashlib.sha256(f"{mark}/{i}".encode()).hexdigest()
        line = (f".{i:06d} " if i % 7 == 0 else f"{i:06d} ") + digest + " " + digest[:20]
        lines.append(line.encode())
        size += len(line) + 1
        i += 1
    body_lf = b"\n".join(lines) + b"\n"
    message = f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: {mark}\r\n\r\n".encode() + body_lf.replace(b"\n", b"\r\n")
    with smtplib.SMTP_SSL(ctx.server.address, 465, context=client_context(ctx), timeout=60) as smtp:
        smtp.login(ALICE, USERS[ALICE])
        refused = smtp.sendmail(ALICE, [BOB], message)
    check(refused == {}, f"refused {refused}")
    d = await_delivery(ctx.server, mark, {BOB: 1}, timeout=30)[BOB][0]
    check_delivered_basics(d, return_path=ALICE, delivered_to=BOB, protocol="ESMTPSA")
    check(len(d.body) == len(body_lf), f"body is {len(d.body)} bytes, sent {len(body_lf)}")
    check(hashlib.sha256(d.body).digest() == hashlib.sha256(body_lf).digest(), "body bytes differ")
    return f"{len(body_lf)} bytes, {len(lines)} lines"


def remote_recipients(n, tag):
    return [f"r{i:03d}-{tag}@remote.invalid" for i in range(n)]


@scenario("recipients-100")
def hundred(ctx):
    """100 RCPTs (alice, bob, 98 remote after AUTH) all get 250; one copy each locally, no 'for <…>' in Received
    (would disclose Bcc), the spool record names all 98 remote ones; a 101st RCPT gets 452 4.5.3."""
    mark = marker("rcpt100")
    remote = remote_recipients(98, mark[-8:])
    message = f"From: {ALICE}\r\nTo: undisclosed-recipients:;\r\nSubject: {mark}\r\n\r\nto a hundred\r\n".encode()
    with smtplib.SMTP(ctx.server.address, 587, timeout=30) as smtp:
        smtp.starttls(context=client_context(ctx))
        smtp.login(ALICE, USERS[ALICE])
        refused = smtp.sendmail(ALICE, [ALICE, BOB] + remote, message)
        check(refused == {}, f"refused among 100: {refused}")
        over = remote_recipients(101, mark[-8:] + "x")
        refused = smtp.sendmail(ALICE, over, message.replace(mark.encode(), (mark + "-101").encode()))
    check(list(refused) == [over[100]], f"with 101 RCPTs, refused {list(refused)[:3]}…, expected only the 101st")
    code, text = refused[over[100]]
    check(code == 452 and text.startswith(b"4.5.3"), f"the 101st RCPT got {code} {text!r}, expected 452 4.5.3")
    found = await_delivery(ctx.server, mark, {ALICE: 1, BOB: 1}, stays_queued=True)
    for who, ds in found.items():
        check_delivered_basics(ds[0], return_path=ALICE, delivered_to=who, protocol="ESMTPSA")
        check(" for <" not in ds[0].header("Received"), "Received names a recipient of a 100-recipient message")
    qid = found[ALICE][0].queue_id
    record = (ctx.server.spool_env / qid).read_text(errors="replace")
    missing = [r for r in remote if r not in record]
    check(not missing, f"spool record {qid} does not name {len(missing)} remote recipients, e.g. {missing[:2]}")
    return f"queued as {qid}"


@scenario("remote-recipient-queued")
def remote_queued(ctx):
    """After AUTH a remote recipient gets 250 and stays in the spool (its queue file in env/ names it and holds the bytes):
    not delivered to a Maildir, not lost, still there after the scheduler has looked at it."""
    mark = marker("remote")
    rcpt = f"carol-{mark[-8:]}@remote.invalid"
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = ALICE, rcpt, mark
    msg.set_content("for a remote recipient\n")
    with smtplib.SMTP(ctx.server.address, 587, timeout=20) as smtp:
        smtp.starttls(context=client_context(ctx))
        smtp.login(ALICE, USERS[ALICE])
        refused = smtp.send_message(msg)
    check(refused == {}, f"refused {refused}")
    qid = None
    for _ in range(200):
        for f in ctx.server.spool_env.iterdir():
            if mark.encode() in f.read_bytes():
                qid = f.name
        if qid and f"queue_id={qid}" in ctx.server.log():
            break
        time.sleep(0.05)
    check(qid, "no file in spool/env holds the message")
    check(f"queue_id={qid}" in ctx.server.log(), f"the delivery scheduler never logged {qid}")
    record = ctx.server.spool_env / qid
    check(record.exists(), f"spool/env/{qid} is gone: the message left the queue")
    check(rcpt in record.read_text(errors="replace"), f"spool/env/{qid} does not name {rcpt}")
    check(not collect(ctx.server, mark), "a remote message was delivered to a local Maildir")
    return f"spool/env/{qid}"
