"""Local routing (aliases, catch-all, sub-addresses) and the nodemailer client."""

from harness import (USERS, await_delivery, check, check_delivered_basics, marker, nodemailer, swaks)
from registry import scenario

ALICE, BOB = "alice@e2e.test", "bob@e2e.test"


@scenario("alias-expansion")
def alias(ctx):
    """sales@e2e.test (alias of alice and bob) on port 25: exactly one copy each; a second RCPT to alice herself in
    the same message does not make a second copy for her."""
    mark = marker("alias")
    r = swaks(ctx, 25, "--to", "sales@e2e.test", "--from", "customer@example.org", "--header", f"Subject: {mark}")
    check(r.rc == 0 and len(r.queue_ids()) == 1, f"swaks exit {r.rc}: {r.tail()}")
    found = await_delivery(ctx.server, mark, {ALICE: 1, BOB: 1})
    seen = []
    for who in (ALICE, BOB):
        d = found[who][0]
        check_delivered_basics(d, return_path="customer@example.org", protocol="ESMTP")
        dt = d.header("Delivered-To")
        check(dt in ("sales@e2e.test", who), f"{who}: Delivered-To {dt!r}")
        seen.append(dt)
    mark = marker("alias-dup")
    r = swaks(ctx, 25, "--to", f"sales@e2e.test,{ALICE}", "--from", "customer@example.org",
              "--header", f"Subject: {mark}")
    check(r.rc == 0, f"swaks exit {r.rc}: {r.tail()}")
    await_delivery(ctx.server, mark, {ALICE: 1, BOB: 1})
    return f"Delivered-To: {seen[0]}"


@scenario("catch-all")
def catch_all(ctx):
    """'@catchall.e2e.test: alice@e2e.test': any local part there reaches alice, Delivered-To names the original."""
    mark = marker("catchall")
    rcpt = f"anything-{mark[-8:]}@catchall.e2e.test"
    r = swaks(ctx, 25, "--to", rcpt, "--from", "sender@example.org", "--header", f"Subject: {mark}")
    check(r.rc == 0 and len(r.queue_ids()) == 1, f"swaks exit {r.rc}: {r.tail()}")
    d = await_delivery(ctx.server, mark, {ALICE: 1})[ALICE][0]
    check_delivered_basics(d, return_path="sender@example.org", protocol="ESMTP")
    check(d.header("Delivered-To") in (rcpt, ALICE), f"Delivered-To {d.header('Delivered-To')!r}")
    return f"Delivered-To: {d.header('Delivered-To')}"


@scenario("subaddress")
def subaddress(ctx):
    """alice+shopping@e2e.test reaches alice with 'Delivered-To: alice+shopping@e2e.test'; Bob+Tag@E2E.TEST reaches bob."""
    mark = marker("subaddr")
    r = swaks(ctx, 25, "--to", "alice+shopping@e2e.test", "--from", "shop@example.org", "--header", f"Subject: {mark}")
    check(r.rc == 0 and len(r.queue_ids()) == 1, f"swaks exit {r.rc}: {r.tail()}")
    d = await_delivery(ctx.server, mark, {ALICE: 1})[ALICE][0]
    check_delivered_basics(d, return_path="shop@example.org", delivered_to="alice+shopping@e2e.test", protocol="ESMTP")
    mark = marker("subaddr-case")
    r = swaks(ctx, 25, "--to", "Bob+Tag@E2E.TEST", "--from", "shop@example.org", "--header", f"Subject: {mark}")
    check(r.rc == 0 and len(r.queue_ids()) == 1, f"Bob+Tag@E2E.TEST: swaks exit {r.rc}: {r.tail()}")
    d = await_delivery(ctx.server, mark, {BOB: 1})[BOB][0]
    check((d.header("Delivered-To") or "").lower() == "bob+tag@e2e.test", f"Delivered-To {d.header('Delivered-To')!r}")


def nodemailer_case(ctx, port, secure, sender, recipient):
    mark = marker(f"node-{port}")
    text = f"Sent by nodemailer on port {port}.\nSecond line, ünïcödé.\n"
    answer = nodemailer(ctx, {"host": ctx.server.address, "port": port, "secure": secure, "user": sender,
                              "pass": USERS[sender], "ca": str(ctx.ca), "from": sender, "to": recipient,
                              "subject": mark, "text": text})
    check(answer.get("ok"), f"nodemailer failed: {answer}")
    check((answer.get("response") or "").startswith("250 2.0.0 queued as "), f"response {answer.get('response')!r}")
    check(answer.get("accepted") == [recipient], f"accepted {answer.get('accepted')}")
    d = await_delivery(ctx.server, mark, {recipient: 1})[recipient][0]
    check_delivered_basics(d, return_path=sender, delivered_to=recipient, protocol="ESMTPSA")
    check("(using TLSv1." in d.header("Received"), f"no TLS clause: {d.header('Received')!r}")
    check(d.queue_id == answer["response"].split()[-1], "Received id is not the id nodemailer was given")
    check(d.header("Subject") == mark, f"Subject {d.header('Subject')!r}")
    return f"node {answer.get('node')}, nodemailer {answer.get('nodemailer')}"


@scenario("nodemailer-submission-starttls")
def node_587(ctx):
    """nodemailer {port: 587, secure: false, requireTLS: true, auth, tls.ca}: STARTTLS, AUTH, 250 queued, delivered."""
    return nodemailer_case(ctx, 587, False, ALICE, BOB)


@scenario("nodemailer-submissions-tls")
def node_465(ctx):
    """nodemailer {port: 465, secure: true, auth, tls.ca}: implicit TLS, AUTH, 250 queued, delivered."""
    return nodemailer_case(ctx, 465, True, BOB, ALICE)


@scenario("null-sender")
def null_sender(ctx):
    """A bounce (MAIL FROM:<>) on port 25 is accepted and delivered with 'Return-Path: <>'."""
    mark = marker("null-sender")
    r = swaks(ctx, 25, "--to", ALICE, "--from", "<>", "--header", f"Subject: {mark}",
              "--header", "From: MAILER-DAEMON@example.org")
    check(r.has("MAIL FROM:<>"), f"swaks did not send MAIL FROM:<>: {r.tail()}")
    check(r.rc == 0 and len(r.queue_ids()) == 1, f"swaks exit {r.rc}: {r.tail()}")
    d = await_delivery(ctx.server, mark, {ALICE: 1})[ALICE][0]
    check_delivered_basics(d, return_path="", delivered_to=ALICE, protocol="ESMTP")
