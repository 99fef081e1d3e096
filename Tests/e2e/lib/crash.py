"""kill -9 under load, restart, and account for every message.

Each round starts a Tern of its own (own state dir and Maildirs), drives
it with concurrent raw SMTP sessions on port 25 (pipelined MAIL/RCPT/DATA,
many messages per connection), and SIGKILLs it once a chosen share of the
messages has been acknowledged. Every message records how far it got:

  acked          250 received (the server promised to deliver it)
  sent-no-reply  the whole DATA including the final CRLF.CRLF was handed to the
                 kernel, no reply came (the server may or may not have it)
  partial        DATA started, the end-of-data was never sent
  not-started    the kill came before its DATA
  rejected       a reply other than 250/354 (should not happen)

Then the server restarts on the same state dir, the spool drains (spool/env
empty) and the Maildirs are read back. Must hold: every acked message is
delivered to each recipient (duplicates are allowed, counted and printed:
delivery is at least once); no partial, not-started or rejected message is
delivered; every delivered copy is byte-complete (its body is derived from
its id); the spool keeps no orphans; the restarted server accepts new mail; a message for a remote recipient
queued before the kill is still queued after it.

Settings: E2E_CRASH_POINTS (shares of the messages acknowledged before the
kill, default 0.15,0.5,0.85), E2E_CRASH_MESSAGES (per round, default 2000),
E2E_CRASH_SESSIONS (concurrent sessions, default 8), E2E_SEED.
"""

import hashlib
import os
import random
import select
import smtplib
import socket
import threading
import time

from harness import USERS, Fail, RawSMTP, Server, check, client_context, deadline_loop
from registry import scenario

ALICE, BOB = "alice@e2e.test", "bob@e2e.test"
NOT_STARTED, PARTIAL, SENT, ACKED, REJECTED = "not-started", "partial", "sent-no-reply", "acked", "rejected"
PER_CONNECTION = 20
PIECE = 8 * 1024


def body_lines(mid):
    """The body of message `mid` (LF, as it will sit in the Maildir), derived from the id alone."""
    h = hashlib.sha256(mid.encode()).digest()
    count = 800 if h[0] % 40 == 0 else 3 + h[1] % 28
    lines = [f"{mid} {i:04d} {hashlib.sha256(f'{mid}/{i}'.encode()).hexdigest()}" for i in range(count)]
    lines.append(f"END {mid}")
    return "\n".join(lines) + "\n"


class Message:
    __slots__ = ("mid", "rcpts", "payload", "state", "qid", "reply")

    def __init__(self, mid, rcpts):
        self.mid = mid
        self.rcpts = rcpts
        head = (f"From: load@example.org\r\nTo: {', '.join(rcpts)}\r\nSubject: crash {mid}\r\n"
                f"Message-ID: <{mid}@load.e2e.test>\r\n\r\n")
        body = body_lines(mid).replace("\n", "\r\n")
        self.payload = (head + body + ".\r\n").encode()  # no body line starts with "."
        self.state = NOT_STARTED
        self.qid = None
        self.reply = None


def peer_gone(sock):
    """Raises ConnectionError if the server has closed or reset the connection."""
    readable, _, _ = select.select([sock], [], [], 0)
    if readable and not sock.recv(1, socket.MSG_PEEK):
        raise ConnectionError("closed by the server during DATA")


class Load:
    """Sessions that send their share of the messages, PER_CONNECTION per
    connection, until all are sent or the server is gone."""

    def __init__(self, address, messages, sessions):
        self.address = address
        self.queues = [messages[i::sessions] for i in range(sessions)]
        self.acked = 0
        self.done = 0
        self.lock = threading.Condition()

    def run_session(self, k):
        todo = list(self.queues[k])
        try:
            while todo:
                try:
                    s = RawSMTP(self.address, 25, timeout=20)
                except OSError:
                    return  # the server is gone
                try:
                    if s.reply()[0] != 220 or s.command(f"EHLO load{k}.e2e.test")[0] != 250:
                        return
                    for _ in range(min(PER_CONNECTION, len(todo))):
                        if not self.send_one(s, todo.pop(0), slow=k < 2):
                            break
                    else:
                        s.command("QUIT")
                except OSError:
                    pass  # most likely the kill: the message keeps the state it reached
                finally:
                    s.close()
        finally:
            with self.lock:
                self.done += 1
                self.lock.notify_all()

    def send_one(self, s, m, slow=False):
        """One pipelined transaction; leaves m.state at how far it got. False: stop this connection."""
        commands = f"MAIL FROM:<load@example.org>\r\n" + "".join(f"RCPT TO:<{r}>\r\n" for r in m.rcpts) + "DATA\r\n"
        s.send(commands.encode())
        replies = [s.reply() for _ in range(len(m.rcpts) + 2)]
        codes = [c for c, _ in replies]
        if codes != [250] * (len(m.rcpts) + 1) + [354]:
            m.state, m.reply = REJECTED, replies
            return False
        m.state = PARTIAL
        if slow:
            # A slow sender: four pieces with pauses, so that kills land inside
            # DATA too. Like a real client it notices a closed connection
            # before it sends on, so the end of data then stays unsent.
            step = len(m.payload) // 4 + 1
            for start in range(0, len(m.payload), step):
                if start:
                    time.sleep(0.01)
                    peer_gone(s.sock)
                s.send(m.payload[start:start + step])
        else:
            for start in range(0, len(m.payload), PIECE):
                s.send(m.payload[start:start + PIECE])
                if len(m.payload) > PIECE:
                    time.sleep(0.001)
        m.state = SENT
        code, text = s.reply()
        if code == 250 and text and text[0].startswith("2.0.0 queued as "):
            m.state, m.qid = ACKED, text[0].split()[-1]
            with self.lock:
                self.acked += 1
                self.lock.notify_all()
            return True
        m.state, m.reply = REJECTED, (code, text)
        return False


def queue_remote(ctx, server, number):
    """Submits one message for a remote recipient (it stays queued: there is
    no outbound engine); returns the recipient and its queue id."""
    mark = f"c{number}-remote-{random.randrange(16**6):06x}"
    rcpt = f"dave-{mark}@remote.invalid"
    with smtplib.SMTP(server.address, 587, timeout=20) as smtp:
        smtp.starttls(context=client_context(ctx))
        smtp.login(ALICE, USERS[ALICE])
        smtp.sendmail(ALICE, [rcpt], f"Subject: {mark}\r\n\r\nremote\r\n")
    for _ in deadline_loop(10):
        for f in server.spool_env.iterdir():
            if mark.encode() in f.read_bytes():
                return rcpt, f.name
    raise Fail(f"round {number}: the remote message is not in spool/env")


def scan_maildirs(server):
    """{(mid, mailbox): [Delivered-like tuples]} and the list of files that are not ours."""
    copies, strays = {}, []
    for path, mailbox in server.delivered_files().items():
        raw = path.read_bytes()
        head, _, body = raw.partition(b"\n\n")
        subject = next((l[len(b"Subject: crash "):].decode() for l in head.split(b"\n")
                        if l.startswith(b"Subject: crash ")), None)
        if subject is None:
            strays.append(path.name)
            continue
        copies.setdefault((subject, mailbox), []).append((path, head, body))
    return copies, strays


def crash_round(ctx, number, share, total, sessions, rng):
    root = ctx.tmp / f"crash-{number}"
    server = Server(root, ctx.crash_address, ctx.cert, ctx.key, ctx.users_file, ctx.aliases_file,
                    name=f"tern (crash round {number})")
    ctx.servers.append(server)
    messages = []
    for n in range(total):
        mid = f"c{number}-{n:05d}-{rng.randrange(16**6):06x}"
        rcpts = [ALICE, BOB] if n % 5 == 0 else [(ALICE, BOB)[n % 2]]
        messages.append(Message(mid, rcpts))
    by_id = {m.mid: m for m in messages}
    target = max(1, int(total * share))
    stats = {"round": number, "target": target}

    server.start()
    remote_rcpt, remote_qid = queue_remote(ctx, server, number)
    # Transactions that stall inside DATA and are still open at the kill: cut
    # mid-line, right after CRLF "." and after CRLF "." CR.
    stalled = []
    for cut_name, cut_at in (("midline", -20), ("dot", -2), ("dotcr", -1)):
        m = Message(f"c{number}-stall-{cut_name}", [ALICE])
        s = RawSMTP(server.address, 25, timeout=20)
        s.reply()
        s.command("EHLO stall.e2e.test")
        s.send(f"MAIL FROM:<load@example.org>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n".encode())
        check([s.reply()[0] for _ in range(3)] == [250, 250, 354], "a stalled transaction was refused")
        s.send(m.payload[:cut_at])
        m.state = PARTIAL
        stalled.append(s)
        messages.append(m)
        by_id[m.mid] = m
    load = Load(server.address, messages[:total], sessions)
    threads = [threading.Thread(target=load.run_session, args=(k,), daemon=True) for k in range(sessions)]
    started = time.monotonic()
    for t in threads:
        t.start()
    with load.lock:
        load.lock.wait_for(lambda: load.acked >= target or load.done == sessions, timeout=120)
    time.sleep(rng.uniform(0, 0.02))  # land anywhere inside the next transactions
    stats["acked_at_kill"] = load.acked  # replies already in flight may still arrive
    stats["kill_after"] = time.monotonic() - started
    server.kill9()
    for s in stalled:
        s.close()
    for t in threads:
        t.join(30)
    check(not any(t.is_alive() for t in threads), "load sessions still running 30 s after the kill")

    counts = {s: 0 for s in (ACKED, SENT, PARTIAL, NOT_STARTED, REJECTED)}
    for m in messages:
        counts[m.state] += 1
    stats.update(counts)
    stats["spooled_at_kill"] = len(server.spool_ids())

    t = time.monotonic()
    server.start()
    for _ in deadline_loop(90, 0.1):
        if server.spool_ids() <= {remote_qid}:
            break
    else:
        raise Fail(f"round {number}: spool/env still holds {len(server.spool_ids())} records 90 s after the restart")
    stats["drain"] = time.monotonic() - t

    copies, strays = scan_maildirs(server)
    lost, duplicates, phantom, corrupt, inconsistent = [], 0, [], [], []
    sent_delivered = 0
    for (mid, mailbox), files in copies.items():
        m = by_id.get(mid)
        if m is None or mailbox not in m.rcpts:
            strays.append(f"{mid} in {mailbox}")
            continue
        expected_body = body_lines(mid).encode()
        for path, head, body in files:
            if body != expected_body or f"Delivered-To: {mailbox}".encode() not in head:
                corrupt.append(f"{mid} ({path.name}: {len(body)} of {len(expected_body)} body bytes)")
        if len(files) > 1:
            duplicates += len(files) - 1
    for m in messages:
        got = [len(copies.get((m.mid, r), [])) for r in m.rcpts]
        if m.state == ACKED:
            lost += [f"{m.mid}→{r} (queued as {m.qid})" for r, n in zip(m.rcpts, got) if n == 0]
        elif m.state == SENT:
            if all(got):
                sent_delivered += 1
            elif any(got):
                inconsistent.append(m.mid)
        elif any(got):
            phantom.append(f"{m.mid} ({m.state})")
    stats.update(delivered=len(copies), lost=len(lost), duplicates=duplicates, phantom=len(phantom),
                 corrupt=len(corrupt), strays=len(strays), sent_delivered=sent_delivered,
                 inconsistent=len(inconsistent))

    leftovers = sorted(p.name for d in ("state", "tmp") for p in (server.state / "spool" / d).iterdir()
                       if p.name != remote_qid)
    stats["spool_leftovers"] = len(leftovers)

    # The restarted server takes new mail.
    fresh = f"c{number}-after-restart"
    by_id[fresh] = after = Message(fresh, [ALICE])
    s = RawSMTP(server.address, 25)
    try:
        s.reply()
        s.command("EHLO after.e2e.test")
        healthy = Load(server.address, [], 1).send_one(s, after) and after.state == ACKED
    finally:
        s.close()
    if healthy:
        for _ in deadline_loop(20):
            if (fresh, ALICE) in scan_maildirs(server)[0]:
                break
        else:
            healthy = False
    server.stop()

    problems = []
    record = server.spool_env / remote_qid
    if not record.exists() or remote_rcpt not in record.read_text(errors="replace"):
        problems.append(f"the queued remote message {remote_qid} for {remote_rcpt} did not survive the kill")
    if lost:
        problems.append(f"{len(lost)} acknowledged deliveries lost, e.g. {lost[:3]}")
    if phantom:
        problems.append(f"{len(phantom)} messages delivered that were never fully sent, e.g. {phantom[:3]}")
    if corrupt:
        problems.append(f"{len(corrupt)} corrupt copies, e.g. {corrupt[:3]}")
    if strays:
        problems.append(f"{len(strays)} unexpected Maildir files, e.g. {strays[:3]}")
    if inconsistent:
        problems.append(f"{len(inconsistent)} multi-recipient messages reached only some recipients: {inconsistent[:3]}")
    if counts[REJECTED]:
        bad = [m for m in messages if m.state == REJECTED][:2]
        problems.append(f"{counts[REJECTED]} transactions refused before the kill, e.g. {[(m.mid, m.reply) for m in bad]}")
    if leftovers:
        problems.append(f"{len(leftovers)} files left in spool/state or spool/tmp after recovery: {leftovers[:3]}")
    if not healthy:
        problems.append("the restarted server did not accept and deliver a new message")
    if not ctx.keep:
        ctx.remove_later(root)
    return stats, problems


def describe(s):
    return (f"round {s['round']}: kill -9 after {s['acked_at_kill']} acks (target {s['target']}) at "
            f"{s['kill_after']:.2f} s | acked {s[ACKED]}, sent-no-reply {s[SENT]}, partial {s[PARTIAL]}, "
            f"not-started {s[NOT_STARTED]}, rejected {s[REJECTED]} | spool/env at kill {s['spooled_at_kill']}, "
            f"drained in {s['drain']:.1f} s | delivered {s['delivered']} (message, mailbox) pairs: lost {s['lost']}, "
            f"duplicates {s['duplicates']}, phantom {s['phantom']}, corrupt {s['corrupt']}, "
            f"sent-no-reply delivered {s['sent_delivered']}/{s[SENT]}, spool leftovers {s['spool_leftovers']}")


@scenario("crash-kill9")
def crash(ctx):
    """kill -9 at 3 moments under 8 concurrent sessions; after restart every 250-acknowledged message is delivered
    (duplicates counted), nothing half-sent is delivered, every copy is byte-complete."""
    shares = [float(x) for x in os.environ.get("E2E_CRASH_POINTS", "0.15,0.5,0.85").split(",")]
    total = int(os.environ.get("E2E_CRASH_MESSAGES", "2000"))
    sessions = int(os.environ.get("E2E_CRASH_SESSIONS", "8"))
    rng = random.Random(ctx.seed)
    problems = []
    totals = {"acked": 0, "duplicates": 0, "lost": 0}
    for number, share in enumerate(shares, 1):
        stats, round_problems = crash_round(ctx, number, share, total, sessions, rng)
        ctx.say("    " + describe(stats))
        problems += [f"round {number}: {p}" for p in round_problems]
        totals["acked"] += stats[ACKED]
        totals["duplicates"] += stats["duplicates"]
        totals["lost"] += stats["lost"]
    check(not problems, "; ".join(problems))
    return (f"{len(shares)} kills, {totals['acked']} acked messages, {totals['lost']} lost, "
            f"{totals['duplicates']} duplicate copies")
