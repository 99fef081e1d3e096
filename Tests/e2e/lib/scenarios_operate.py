"""Operating Tern with the real binary: tern sendmail (and the sendmail/mailq links), tern queue, the
pickup directory while the server is stopped, SIGHUP reload with a session open, SIGTERM during DATA,
tern serve --print.

They share one Tern of their own ("operate") whose remote mail goes to a relay where nothing listens,
so every remote recipient is deferred and stays in the queue for the queue commands.
"""

import json
import os
import signal
import socket
import ssl
import subprocess

from harness import (DOMAIN, HOSTNAME, TERN, Fail, RawSMTP, Server, add_users, check, deadline_loop,
                     make_certificate, marker, port_free)
from registry import scenario

ALICE, BOB = "alice@e2e.test", "bob@e2e.test"


class Operate:
    """The operate Tern and how to run tern's commands against it."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.root = ctx.tmp / "operate"
        self.root.mkdir(exist_ok=True)
        self.address = f"{ctx.subnet}.240"
        check(port_free(self.address, 25), f"{self.address}:25 is in use")
        self.cert, self.key = make_certificate(self.root, [self.address])
        # Its own users file: the reload scenario adds a user to it.
        self.users = self.root / "users"
        add_users(self.users)
        self.aliases = self.root / "aliases"
        self.aliases.write_text(ctx.aliases_file.read_text())
        self.server = Server(self.root / "server", self.address, self.cert, self.key, self.users, self.aliases,
                             name="tern (operate)", settings={"delivery": {"relay": "127.0.0.1:9"},
                                                              "log": {"file": str(self.root / "file.log")}})
        self.log_file = self.root / "file.log"
        self.bin = self.root / "bin"
        self.bin.mkdir(exist_ok=True)
        for name in ("sendmail", "mailq"):
            link = self.bin / name
            if not link.exists():
                link.symlink_to(TERN)
        self.env = dict(os.environ, TERN_CONFIG=str(self.server.config))

    def start(self):
        self.server.start()

    def stop(self):
        self.server.stop()

    kill9 = stop

    def run(self, args, stdin=b"", program=None):
        """Runs `tern ARGS` (or the `sendmail`/`mailq` link) with TERN_CONFIG set."""
        command = [str(self.bin / program) if program else str(TERN)] + list(args)
        r = subprocess.run(command, input=stdin, capture_output=True, env=self.env, timeout=60)
        self.ctx.note_transcript(" ".join(command), r.stdout.decode("utf-8", "replace")
                                 + r.stderr.decode("utf-8", "replace"))
        return r

    def queue(self):
        r = self.run(["queue", "list", "--json"])
        check(r.returncode == 0, f"tern queue list failed: {r.stderr!r}")
        return json.loads(r.stdout)["entries"]

    def entry(self, queue_id):
        return next((e for e in self.queue() if e["id"] == queue_id), None)

    def delivered(self, address, mark, timeout=20):
        """The files in `address`'s Maildir that contain `mark`."""
        local, domain = address.split("@")
        new = self.server.mail / domain / local / "Maildir" / "new"
        for _ in deadline_loop(timeout):
            found = [p.read_text(errors="replace") for p in (new.iterdir() if new.is_dir() else [])
                     if mark in p.read_text(errors="replace")]
            if found:
                return found
        raise Fail(f"nothing with {mark} delivered to {address} within {timeout} s\n{self.server.log_tail()}")

    def queued_remote(self, mark):
        """Queues a message from alice (root may set -f) to a remote recipient; waits until it is deferred."""
        r = self.run(["sendmail", "-f", ALICE, "bob@remote.test"],
                     stdin=f"Subject: {mark}\nFrom: {ALICE}\n\nfor later\n".encode())
        check(r.returncode == 0, f"tern sendmail failed: {r.returncode} {r.stderr!r}")
        for _ in deadline_loop(20):
            entries = [e for e in self.queue() if e["recipients"][0]["address"] == "bob@remote.test"
                       and e["recipients"][0]["state"] == "deferred"]
            known = {e["id"] for e in entries} - self.ctx.state.setdefault("operate-seen", set())
            if known:
                queue_id = sorted(known)[0]
                self.ctx.state["operate-seen"].add(queue_id)
                return queue_id
        raise Fail("the remote message was not deferred\n" + self.server.log_tail())


def operate(ctx):
    o = ctx.state.get("operate")
    if o is None:
        o = Operate(ctx)
        ctx.state["operate"] = o
        ctx.servers.append(o)
        o.start()
    if not o.server.running():
        o.start()
    return o


@scenario("operate-sendmail")
def sendmail(ctx):
    """tern sendmail -t -oi -F: recipients from To/Cc, Bcc removed, From/Date/Message-ID added, a lone dot kept;
    the `sendmail` link with -bs speaks SMTP on stdin/stdout; without -i a lone dot ends the message."""
    o = operate(ctx)
    mark = marker("sendmail-t")
    message = f"To: Alice <{ALICE}>\nBcc: {BOB}\nSubject: {mark}\n\nfirst line\n.\nafter the dot\n"
    r = o.run(["sendmail", "-t", "-oi", "-F", "Cron Daemon"], stdin=message.encode())
    check(r.returncode == 0, f"tern sendmail -t failed: {r.returncode} {r.stderr!r}")
    for address in (ALICE, BOB):
        text = o.delivered(address, mark)[0]
        check(f"From: Cron Daemon <root@{HOSTNAME}>" in text, f"no From added for {address}: {text[:400]!r}")
        check("\nDate: " in text and "\nMessage-ID: <" in text, "Date or Message-ID not added")
        check("Bcc:" not in text, "the Bcc field was delivered")
        check("\n.\nafter the dot\n" in text, "-oi: the lone dot line was not kept")
        check(f"Received: by {HOSTNAME} (Tern, from userid 0)" in text, "no local Received field")

    mark = marker("sendmail-dot")
    r = o.run([ALICE], stdin=f"Subject: {mark}\n\nkept\n.\ndropped\n".encode(), program="sendmail")
    check(r.returncode == 0, f"sendmail (link) failed: {r.stderr!r}")
    text = o.delivered(ALICE, mark)[0]
    check("kept" in text and "dropped" not in text, f"a lone dot did not end the message: {text[-200:]!r}")

    mark = marker("sendmail-bs")
    dialogue = (f"EHLO localhost\r\nMAIL FROM:<{BOB}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n"
                f"Subject: {mark}\r\n\r\nover -bs\r\n.\r\nQUIT\r\n")
    r = o.run(["-bs"], stdin=dialogue.encode(), program="sendmail")
    out = r.stdout.decode()
    check(r.returncode == 0 and out.startswith("220 ") and "250 2.0.0 queued as" in out and "221 " in out,
          f"sendmail -bs: exit {r.returncode}, {out!r}")
    text = o.delivered(ALICE, mark)[0]
    check(f"Return-Path: <{BOB}>" in text, "root's MAIL FROM in -bs was not kept as the envelope sender")

    logged = o.log_file.read_text()
    check("accepted from local user root" in logged and "uid=0" in logged,
          f"[log] file lacks the local submission: {logged[-300:]!r}")
    r = o.run(["--bogus"], program="sendmail")
    check(r.returncode == 64, f"an unknown option gave exit {r.returncode}, not 64 (EX_USAGE)")
    r = o.run(["sendmail", "-t"], stdin=b"Subject: nobody\n\nx\n")
    check(r.returncode == 65 and b"no recipients" in r.stderr, f"no recipients: exit {r.returncode} {r.stderr!r}")
    return "-t, link, -bs, dot handling, errors"


@scenario("operate-queue-commands")
def queue_commands(ctx):
    """tern queue list/show/hold/release/flush/bounce/delete and the mailq link on a deferred message."""
    o = operate(ctx)
    mark = marker("queue")
    queue_id = o.queued_remote(mark)
    entry = o.entry(queue_id)
    check(entry["sender"] == f"<{ALICE}>" and entry["recipients"][0]["lastError"], f"listing: {entry}")
    r = o.run([], program="mailq")
    check(r.returncode == 0 and queue_id in r.stdout.decode() and "bob@remote.test" in r.stdout.decode(),
          f"mailq: {r.stdout!r} {r.stderr!r}")
    r = o.run(["queue", "show", queue_id])
    check(r.returncode == 0 and f"Subject: {mark}" in r.stdout.decode() and "deferred" in r.stdout.decode(),
          f"tern queue show: {r.stdout[-500:]!r}")

    check(o.run(["queue", "hold", queue_id]).returncode == 0, "hold failed")
    check(o.entry(queue_id)["held"], "not held after tern queue hold")
    check(f"{queue_id}!" in o.run(["queue", "list"]).stdout.decode(), "the table does not mark the held message")
    check(o.run(["queue", "release", queue_id]).returncode == 0, "release failed")
    for _ in deadline_loop(20):
        e = o.entry(queue_id)
        if e and not e["held"] and e["recipients"][0]["attempts"] >= 2:
            break
    else:
        raise Fail(f"a released message was not tried again: {o.entry(queue_id)}")
    r = o.run(["queue", "flush", "--domain", "remote.test"])
    check(r.returncode == 0 and queue_id in r.stdout.decode(), f"flush --domain: {r.stdout!r} {r.stderr!r}")

    r = o.run(["queue", "bounce", queue_id])
    check(r.returncode == 0, f"tern queue bounce failed: {r.stderr!r}")
    dsn = o.delivered(ALICE, "delivery given up by the mail administrator")
    check(any(mark in text for text in dsn), "the bounce to alice does not carry the original subject")
    for _ in deadline_loop(20):
        if o.entry(queue_id) is None:
            break
    else:
        raise Fail("the bounced message stayed in the queue")

    other = o.queued_remote(marker("queue-delete"))
    r = o.run(["queue", "delete", "--all-deferred", "--json"])
    check(r.returncode == 0 and json.loads(r.stdout).get(other) == "removed", f"delete --all-deferred: {r.stdout!r}")
    check(o.entry(other) is None, "deleted message still listed")
    r = o.run(["queue", "show", "00000000000000000000"])
    check(r.returncode != 0 and b"no" in r.stderr, f"an unknown ID: exit {r.returncode} {r.stderr!r}")
    return f"{queue_id} bounced, {other} deleted"


@scenario("operate-pickup-while-stopped")
def pickup(ctx):
    """With the server stopped: tern sendmail leaves the message in the pickup directory (exit 0), tern queue
    works on the spool directly; the started server delivers the message."""
    o = operate(ctx)
    o.stop()
    mark = marker("pickup")
    r = o.run(["sendmail", ALICE], stdin=f"Subject: {mark}\n\nwritten while stopped\n".encode())
    check(r.returncode == 0, f"tern sendmail with the server stopped: exit {r.returncode} {r.stderr!r}")
    pending = [p for p in (o.server.state / "pickup").iterdir() if not p.name.startswith(".")]
    check(len(pending) == 1, f"pickup directory holds {pending}")
    check(oct((o.server.state / "pickup").stat().st_mode & 0o7777) == "0o3733", "pickup is not mode 3733")
    r = o.run(["queue", "list"])
    check(r.returncode == 0, f"tern queue list on a stopped server: {r.stderr!r}")
    o.start()
    o.delivered(ALICE, mark)
    check(not [p for p in (o.server.state / "pickup").iterdir() if not p.name.startswith(".")],
          "the pickup file was not removed")


@scenario("operate-reload-sighup")
def reload(ctx):
    """SIGHUP with a session open across it: a new user and a renewed certificate are picked up, the open session
    still delivers its message; tern reload reports what it did."""
    o = operate(ctx)
    open_session = RawSMTP(o.address, 25)
    try:
        check(open_session.reply()[0] == 220, "no greeting")
        check(open_session.command("EHLO client.test")[0] == 250, "EHLO")
        check(open_session.command(f"MAIL FROM:<sender@example.org>")[0] == 250, "MAIL")
        check(open_session.command(f"RCPT TO:<{ALICE}>")[0] == 250, "RCPT")
        add_users(o.users, {"dave@e2e.test": "dave-pw"})
        old_der = ssl.PEM_cert_to_DER_cert(o.cert.read_text())
        make_certificate(o.root, [o.address])  # writes a new cert.pem/key.pem over the old ones
        new_der = ssl.PEM_cert_to_DER_cert(o.cert.read_text())
        check(old_der != new_der, "the certificate did not change")
        o.server.proc.send_signal(signal.SIGHUP)
        for _ in deadline_loop(20):
            if "reload: TLS certificate" in o.server.log():
                break
        else:
            raise Fail("no reload in the log after SIGHUP\n" + o.server.log_tail())
        mark = marker("reload")
        check(open_session.command("DATA")[0] == 354, "DATA")
        code, text = open_session.command(f"Subject: {mark}\r\n\r\nacross a reload\r\n.")
        check(code == 250, f"the session open across the reload got {code} {text}")
        open_session.command("QUIT")
    finally:
        open_session.close()
    o.delivered(ALICE, mark)
    fresh = RawSMTP(o.address, 25)
    try:
        fresh.reply()
        fresh.command("EHLO client.test")
        fresh.command("MAIL FROM:<sender@example.org>")
        code, text = fresh.command("RCPT TO:<dave@e2e.test>")
        check(code == 250, f"the new user is unknown after the reload: {code} {text}")
    finally:
        fresh.close()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((o.address, 465), timeout=10) as raw:
        with context.wrap_socket(raw) as tls:
            served = tls.getpeercert(binary_form=True)
    check(served == new_der, "port 465 still serves the old certificate after the reload")
    # logrotate's way: move the file, then reload; the server writes a new one.
    o.log_file.rename(o.log_file.with_name("file.log.1"))
    r = o.run(["reload"])
    check(r.returncode == 0 and b"users and aliases" in r.stdout and b"log file" in r.stdout,
          f"tern reload: {r.stdout!r} {r.stderr!r}")
    check(o.log_file.exists() and "reload:" in o.log_file.read_text(), "no new log file after the reload")


@scenario("operate-sigterm-during-data")
def sigterm(ctx):
    """SIGTERM in the middle of a DATA transfer: the session may finish (250) and the message is delivered —
    or, if it is cut, the client never got 250; either way nothing accepted is lost. The server exits."""
    o = operate(ctx)
    mark = marker("sigterm")
    session = RawSMTP(o.address, 25)
    try:
        check(session.reply()[0] == 220, "no greeting")
        session.command("EHLO client.test")
        session.command("MAIL FROM:<sender@example.org>")
        check(session.command(f"RCPT TO:<{ALICE}>")[0] == 250, "RCPT")
        check(session.command("DATA")[0] == 354, "DATA")
        session.send(f"Subject: {mark}\r\n\r\nfirst half\r\n".encode())
        o.server.proc.send_signal(signal.SIGTERM)
        # The second half goes once the shutdown has begun: the listener no longer takes connections.
        for _ in deadline_loop(10):
            try:
                socket.create_connection((o.address, 25), timeout=1).close()
            except OSError:
                break
        else:
            raise Fail("port 25 still accepts connections 10 s after SIGTERM")
        try:
            session.send(b"second half\r\n.\r\n")
            code, _ = session.reply()
        except (ConnectionError, OSError):
            code = None
    finally:
        session.close()
    try:
        o.server.proc.wait(20)
    except subprocess.TimeoutExpired:
        raise Fail("the server did not exit within 20 s of SIGTERM")
    if code == 250:
        o.start()
        text = o.delivered(ALICE, mark)[0]
        check("second half" in text, "the delivered message is cut")
        return "finished with 250, delivered"
    check(code is None or code >= 400, f"unexpected reply {code}")
    o.start()
    return f"cut before 250 (reply {code}); nothing was promised"


@scenario("operate-serve-print")
def serve_print(ctx):
    """tern serve --print writes a line per accepted message: queue ID, sender, recipients, subject."""
    o = operate(ctx)
    o.stop()
    proc = subprocess.Popen([str(TERN), "serve", "--config", str(o.server.config), "--print"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        o.server.proc = proc
        o.server.wait_ready(30)
        mark = marker("print")
        s = RawSMTP(o.address, 25)
        try:
            s.reply()
            s.command("EHLO client.test")
            s.command("MAIL FROM:<printer@example.org>")
            s.command(f"RCPT TO:<{ALICE}>")
            s.command("DATA")
            code, text = s.command(f"Subject: {mark}\r\n\r\nprinted\r\n.")
            check(code == 250, f"DATA: {code} {text}")
            s.command("QUIT")
        finally:
            s.close()
        line = proc.stdout.readline().decode()
        check("<printer@example.org>" in line and f"<{ALICE}>" in line and mark in line,
              f"--print line: {line!r}")
    finally:
        proc.terminate()
        proc.wait(20)
        o.server.proc = None
    return line.strip()[:80]
