"""Who may send what, where: relay, unknown users, AUTH rules, sender ownership, brute force.

Every scenario that makes AUTH fail connects from its own 127.x.y.z source
address, so the failure count it builds up (per client address) slows or
blocks no other scenario.
"""

import base64
import smtplib
import time

from harness import USERS, await_delivery, check, check_delivered_basics, marker, swaks, swaks_tls_args
from registry import scenario

ALICE, BOB = "alice@e2e.test", "bob@e2e.test"


def auth(user, password=None, mechanism="PLAIN"):
    return ["--auth", mechanism, "--auth-user", user, "--auth-password", USERS[user] if password is None else password]


@scenario("policy-relay-denied")
def relay_denied(ctx):
    """Port 25, no AUTH, a recipient in another domain: swaks fails, transcript shows 554 5.7.1, nothing queued."""
    before = ctx.server.spool_ids()
    mark = marker("relay")
    r = swaks(ctx, 25, "--to", "victim@remote.invalid", "--from", "spammer@example.org", "--header", f"Subject: {mark}")
    check(r.rc != 0, "swaks succeeded: relaying was allowed")
    check(r.has("554 5.7.1"), f"no 554 5.7.1 in the transcript: {r.tail()}")
    check(not r.queue_ids(), "a queue id was given")
    check(ctx.server.spool_ids() == before, "the spool gained a record")
    return f"swaks exit {r.rc}"


@scenario("policy-relay-denied-starttls")
def relay_denied_tls(ctx):
    """TLS alone grants nothing: port 25 with STARTTLS, remote recipient → 554 5.7.1."""
    r = swaks(ctx, 25, "-tls", *swaks_tls_args(ctx), "--to", "victim@remote.invalid", "--from", "x@example.org")
    check(r.rc != 0 and r.has("554 5.7.1"), f"expected 554 5.7.1, swaks exit {r.rc}: {r.tail()}")


@scenario("policy-unknown-user")
def unknown_user(ctx):
    """Port 25, nobody@e2e.test: 550 5.1.1; a second, valid RCPT in the same session is still accepted."""
    r = swaks(ctx, 25, "--to", "nobody@e2e.test", "--from", "sender@example.org")
    check(r.rc != 0 and r.has("550 5.1.1"), f"expected 550 5.1.1, swaks exit {r.rc}: {r.tail()}")
    mark = marker("unknown-mixed")
    r = swaks(ctx, 25, "--to", f"nobody@e2e.test,{ALICE}", "--from", "sender@example.org",
              "--header", f"Subject: {mark}")
    check(r.has("550 5.1.1") and len(r.queue_ids()) == 1, f"mixed RCPTs: {r.tail()}")
    await_delivery(ctx.server, mark, {ALICE: 1})


@scenario("policy-auth-before-starttls")
def auth_before_tls(ctx):
    """Port 587 in plaintext: AUTH not advertised (swaks --auth gives up), and AUTH sent anyway gets 538 5.7.11."""
    src = ctx.source("auth-before-tls")
    r = swaks(ctx, 587, *auth(ALICE), "--to", BOB, "--from", ALICE, "-li", src)
    check(r.rc != 0 and r.has("did not advertise authentication"),
          f"swaks should find no AUTH before STARTTLS, exit {r.rc}: {r.tail()}")
    with smtplib.SMTP(ctx.server.address, 587, timeout=20, source_address=(src, 0)) as smtp:
        smtp.ehlo()
        check(smtp.has_extn("starttls"), "STARTTLS not advertised on 587")
        check(not smtp.has_extn("auth"), "AUTH advertised before STARTTLS")
        token = base64.b64encode(f"\0{ALICE}\0{USERS[ALICE]}".encode()).decode()
        code, text = smtp.docmd("AUTH", "PLAIN " + token)
    check(code == 538 and text.startswith(b"5.7.11"), f"AUTH before STARTTLS answered {code} {text!r}")


@scenario("policy-mail-before-auth")
def mail_before_auth(ctx):
    """Port 587 after STARTTLS, MAIL without AUTH: 530 5.7.0."""
    r = swaks(ctx, 587, "-tls", *swaks_tls_args(ctx), "--to", BOB, "--from", ALICE)
    check(r.rc != 0 and r.has("530 5.7.0"), f"expected 530 5.7.0, swaks exit {r.rc}: {r.tail()}")


@scenario("policy-wrong-password")
def wrong_password(ctx):
    """Port 587, STARTTLS, AUTH PLAIN with a wrong password: 535 5.7.8; the log says 'AUTH failed' without the password."""
    wrong = "not-the-password-7f3a"
    r = swaks(ctx, 587, "-tls", *swaks_tls_args(ctx), *auth(ALICE, wrong), "--to", BOB, "--from", ALICE,
              "-li", ctx.source("wrong-password"))
    check(r.rc != 0 and r.has("535 5.7.8"), f"expected 535 5.7.8, swaks exit {r.rc}: {r.tail()}")
    log = ctx.server.log()
    check("AUTH failed" in log, "no 'AUTH failed' log line")
    check(wrong not in log, "the wrong password appears in the server log")
    token = base64.b64encode(f"\0{ALICE}\0{wrong}".encode()).decode()
    check(token not in log, "the AUTH PLAIN token appears in the server log")


@scenario("policy-sender-not-owned")
def sender_not_owned(ctx):
    """alice authenticated: MAIL FROM bob@ → 553 5.7.1; her sub-address alice+news@ and her alias postmaster@ are accepted."""
    r = swaks(ctx, 587, "-tls", *swaks_tls_args(ctx), *auth(ALICE), "--to", BOB, "--from", BOB)
    check(r.rc != 0 and r.has("553 5.7.1"), f"MAIL FROM:<{BOB}> as alice: expected 553 5.7.1, exit {r.rc}: {r.tail()}")
    r = swaks(ctx, 465, "--tlsc", *swaks_tls_args(ctx), *auth(BOB), "--to", ALICE, "--from", "postmaster@e2e.test")
    check(r.rc != 0 and r.has("553 5.7.1"), f"postmaster@ as bob: expected 553 5.7.1, exit {r.rc}: {r.tail()}")
    for sender in ("alice+news@e2e.test", "postmaster@e2e.test"):
        mark = marker("owned")
        r = swaks(ctx, 587, "-tls", *swaks_tls_args(ctx), *auth(ALICE), "--to", BOB, "--from", sender,
                  "--header", f"Subject: {mark}")
        check(r.rc == 0 and len(r.queue_ids()) == 1, f"MAIL FROM:<{sender}> as alice refused: {r.tail()}")
        d = await_delivery(ctx.server, mark, {BOB: 1})[BOB][0]
        check_delivered_basics(d, return_path=sender, delivered_to=BOB, protocol="ESMTPSA")


def brute_force(ctx):
    """Five wrong passwords in a row from one source address, each in a new
    swaks session; returns [(seconds, transcript result)]. Done once per run."""
    if "brute" in ctx.state:
        return ctx.state["brute"]
    src = ctx.source("brute-force")
    attempts = []
    for i in range(1, 6):
        t = time.monotonic()
        r = swaks(ctx, 587, "-tls", *swaks_tls_args(ctx), *auth(ALICE, f"guess-{i}"), "--to", BOB,
                  "--from", ALICE, "-li", src)
        attempts.append((time.monotonic() - t, r))
    ctx.state["brute"] = (src, attempts)
    return ctx.state["brute"]


@scenario("policy-auth-bruteforce-421")
def bruteforce_421(ctx):
    """Five wrong passwords from one address: answers 1–4 are 535 after about 1, 2, 3, 4 s; the 5th is 421 4.7.0;
    another address still logs in at once."""
    src, attempts = brute_force(ctx)
    summary = []
    for n, (seconds, r) in enumerate(attempts, 1):
        summary.append(f"{seconds:.1f}s")
        expected = "535 5.7.8" if n < 5 else "421 4.7.0"
        check(r.has(expected), f"attempt {n} from {src}: expected {expected}: {r.tail()}")
        # The lower bound is the server's delay; the upper one leaves room for a busy machine.
        check(n - 0.3 <= seconds <= n + 4, f"attempt {n} answered after {seconds:.1f} s, expected about {n} s")
    t = time.monotonic()
    r = swaks(ctx, 587, "-tls", *swaks_tls_args(ctx), *auth(ALICE), "--to", BOB, "--from", ALICE,
              "--quit-after", "AUTH", "-li", ctx.source("brute-force-bystander"))
    check(r.has("235 2.7.0"), f"a correct login from another address failed: {r.tail()}")
    check(time.monotonic() - t < 4, "a correct login from another address was slowed down")
    return "delays " + ", ".join(summary)


@scenario("policy-auth-blocked-address-stays-blocked")
def bruteforce_lockout(ctx):
    """After the 421, the blocked address reconnects with the RIGHT password: it must still be refused (else the
    limit only slows a guesser down: one guess per connection, 20 connections at a time)."""
    src, _ = brute_force(ctx)
    r = swaks(ctx, 587, "-tls", *swaks_tls_args(ctx), *auth(ALICE), "--to", BOB, "--from", ALICE,
              "--quit-after", "AUTH", "-li", src)
    check(not r.has("235 2.7.0"), f"{src} was blocked (421) but its next AUTH succeeded (235): the block is not "
                                  "enforced on new connections")
    check(r.has("421") or r.has("454"), f"expected 421 or 454 for a blocked address: {r.tail()}")


@scenario("log-has-no-secrets")
def no_secrets(ctx):
    """After all the AUTH above (right and wrong), no password and no AUTH PLAIN token appears in the server log."""
    log = ctx.server.log()
    secrets = [(user, password) for user, password in USERS.items()]
    secrets += [(ALICE, "not-the-password-7f3a")] + [(ALICE, f"guess-{i}") for i in range(1, 6)]
    for user, password in secrets:
        check(password not in log, f"a password of {user} appears in the log")
        for token in (f"\0{user}\0{password}", password):
            b64 = base64.b64encode(token.encode()).decode()
            check(b64 not in log, f"{user}'s base64 credentials appear in the log")
    return f"{len(log.splitlines())} log lines checked"
