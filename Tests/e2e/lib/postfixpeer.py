"""A stock Postfix (Debian's `postfix`) as a peer of Tern: a private instance
with its own configuration, queue and data directories under a folder of
ours, smtpd on port 25 of its own 127.x.y.z address, virtual(8) delivering
its domains' mailboxes into Maildirs, STARTTLS with a test certificate, and
a log file (postlogd, `maillog_file`) the scenarios read.

    peer = PostfixPeer(tmp / "postfix", "127.100.7.21", hostname="mx.b.test",
                       mailboxes=["bob@b.test"],
                       transports={"e2e.test": "smtp:[127.100.7.1]:25"})
    peer.start()
    peer.wait_for_message("bob@b.test", mark)        # bytes of the delivered file
    peer.wait_for_log(r"Anonymous TLS connection established from")
    peer.sendmail("carol@b.test", ["alice@e2e.test"], message)   # Postfix → Tern
    peer.stop()

It uses no DNS at all: smtpd does no client name lookup, the SMTP client
reaches only the `transports` given (IP literals, `smtp_dns_support_level =
disabled`) and every other destination fails at once (`default_transport =
error:`). The master daemon is our child (started directly, not through
`postfix start`, so it dies with the runner through PR_SET_PDEATHSIG); the
system's own Postfix, if any, is never touched. Runs as root.
"""

import grp
import json
import os
import pty
import pwd
import re
import select
import signal
import smtplib
import ssl
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from harness import Fail, _die_with_parent, banner, deadline_loop, make_certificate

MAILBOX_USER = "nobody"   # owner of the Maildirs; virtual(8) wants a uid >= virtual_minimum_uid (100)
MAILBOX_GROUP = "nogroup"

# Every service runs without chroot: Debian's own master.cf chroots most of
# them into the system queue directory, which is not ours.
MASTER_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def run_tty(argv, timeout=60, env=None, input_bytes=None):
    """Runs argv with stdout and stderr on a pseudo-terminal; returns (status,
    output). Postfix commands print their errors to stderr only when it is a
    terminal (otherwise only to syslog, which a CI machine may not have)."""
    master_fd, slave_fd = pty.openpty()
    try:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
                                   stdout=slave_fd, stderr=slave_fd, env=env, close_fds=True)
    finally:
        os.close(slave_fd)
    if input_bytes is not None:
        process.stdin.write(input_bytes)
        process.stdin.close()
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            exited = process.poll() is not None
            ready, _, _ = select.select([master_fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master_fd, 65536)
                except OSError:  # EIO: every writer has gone
                    chunk = b""
                if chunk:
                    chunks.append(chunk)
                    continue
            if exited:
                break
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                chunks.append(b"\n(timed out)")
                break
    finally:
        os.close(master_fd)
    return process.wait(), b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n").strip()


def allow_traversal(path):
    """Postfix's daemons run as `postfix` and virtual(8) as the mailbox
    owner: they must be able to walk down to `path`. Adds search permission
    for others (not read) to the ancestors inside the temporary folder that
    lack it, such as the runner's mkdtemp folder (mode 0700)."""
    top = Path(tempfile.gettempdir()).resolve()
    for parent in Path(path).resolve().parents:
        if parent == top or top not in parent.parents:
            break
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH | stat.S_IXGRP)


def daemon_directory():
    r = subprocess.run(["postconf", "-d", "-h", "daemon_directory"], capture_output=True, text=True, timeout=30)
    return Path(r.stdout.strip() or "/usr/lib/postfix/sbin")


class PostfixPeer:
    """One private Postfix under `root` on `address`:25.

    mailboxes: addresses virtual(8) delivers (Maildir `<base>/<domain>/<local>/`);
        their domains are its virtual mailbox domains; other local parts there
        get 550 at RCPT.
    transports: {domain: "smtp:[127.x.y.z]:25"} — where Postfix sends mail for
        other domains (e.g. Tern's); anything else fails at once.
    cert, key: its STARTTLS certificate (made with openssl when not given).
    main: extra main.cf settings {name: value}, applied last.
    """

    def __init__(self, root, address, *, hostname="mx.b.test", mailboxes=("bob@b.test",), transports=None,
                 cert=None, key=None, main=None, name="postfix"):
        self.root = Path(root)
        self.address = address
        self.hostname = hostname
        self.name = name
        self.mailboxes = [m.lower() for m in mailboxes]
        self.domains = sorted({m.split("@")[1] for m in self.mailboxes})
        self.transports = dict(transports or {})
        self.extra_main = dict(main or {})
        self.config_dir = self.root / "conf"
        self.queue_dir = self.root / "queue"
        self.data_dir = self.root / "data"
        self.mail_base = self.root / "mail"
        self.log_path = self.root / "postfix.log"
        self.output_path = self.root / "master.out"
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        allow_traversal(self.root)
        if cert is None:
            cert, key = make_certificate(self.root, [address], hostname=hostname, stem="postfix-")
        self.cert, self.key = Path(cert), Path(key)
        self.proc = None

    # MARK: Configuration

    def main_cf(self):
        user, group = pwd.getpwnam(MAILBOX_USER), grp.getgrnam(MAILBOX_GROUP)
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            # The listener's address is in master.cf: inet_interfaces must name
            # addresses configured on an interface, and 127.x.y.z is only
            # routed through lo's 127.0.0.0/8.
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "myhostname": self.hostname,
            "mydomain": self.domains[0] if self.domains else "localdomain",
            "myorigin": "$myhostname",
            "mydestination": "",
            "local_recipient_maps": "",
            "local_transport": "error:5.1.1 no local delivery here",
            "alias_maps": "",
            "alias_database": "",
            "relay_domains": "",
            "mynetworks": "127.0.0.0/8",
            "biff": "no",
            "append_dot_mydomain": "no",
            "smtpd_banner": "$myhostname ESMTP Postfix",
            "virtual_mailbox_domains": ", ".join(self.domains),
            "virtual_mailbox_base": self.mail_base,
            "virtual_mailbox_maps": f"texthash:{self.config_dir}/vmailbox",
            "virtual_uid_maps": f"static:{user.pw_uid}",
            "virtual_gid_maps": f"static:{group.gr_gid}",
            "transport_maps": f"texthash:{self.config_dir}/transport",
            "default_transport": "error:5.4.4 the e2e Postfix has no route there",
            # No DNS, ever.
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "smtpd_peername_lookup": "no",
            "smtp_bind_address": self.address,
            # TLS both ways, logged.
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": self.cert,
            "smtpd_tls_key_file": self.key,
            "smtpd_tls_loglevel": "1",
            "smtpd_tls_received_header": "yes",
            "smtp_tls_security_level": "may",
            "smtp_tls_loglevel": "1",
            # A deferred message comes back within seconds, not minutes.
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "5s",
            "smtp_connect_timeout": "5s",
            "delay_warning_time": "0h",
            # anvil(8) limits off.
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_message_rate_limit": "0",
            "smtpd_client_new_tls_session_rate_limit": "0",
            # Postfix has no syslog here; postlogd(8) writes this file.
            "maillog_file": self.log_path,
            "maillog_file_prefixes": self.root,
        }
        settings.update(self.extra_main)
        return "# written by Tests/e2e\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())

    def master_cf(self):
        return f"# written by Tests/e2e\n{self.address}:25 inet n - n - - smtpd\n" + MASTER_SERVICES

    def write(self):
        for d in (self.config_dir, self.queue_dir, self.data_dir):
            d.mkdir(parents=True, exist_ok=True)
        owner = pwd.getpwnam("postfix")
        os.chown(self.data_dir, owner.pw_uid, owner.pw_gid)
        (self.config_dir / "main.cf").write_text(self.main_cf())
        (self.config_dir / "master.cf").write_text(self.master_cf())
        (self.config_dir / "vmailbox").write_text(
            "".join(f"{m} {m.split('@')[1]}/{m.split('@')[0]}/\n" for m in self.mailboxes))
        (self.config_dir / "transport").write_text("".join(f"{d} {t}\n" for d, t in self.transports.items()))
        user, group = pwd.getpwnam(MAILBOX_USER), grp.getgrnam(MAILBOX_GROUP)
        self.mail_base.mkdir(parents=True, exist_ok=True)
        os.chown(self.mail_base, user.pw_uid, group.gr_gid)

    def postfix(self, *args, timeout=60):
        return run_tty(["postfix", "-c", str(self.config_dir), *args], timeout=timeout)

    # MARK: Life cycle

    def start(self, timeout=30):
        """Writes the configuration, lets `postfix check` make the queue
        folders, starts master(8) and waits for smtpd's 220 banner."""
        self.write()
        status, output = self.postfix("check")
        if status != 0:
            raise Fail(f"postfix check failed for {self.config_dir}:\n{output}\n{self.log_tail()}")
        out = open(self.output_path, "ab")
        env = dict(os.environ, MAIL_CONFIG=str(self.config_dir))
        self.proc = subprocess.Popen([str(daemon_directory() / "master"), "-c", str(self.config_dir)],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                     preexec_fn=_die_with_parent)
        out.close()
        last = ""
        for _ in deadline_loop(timeout):
            if self.proc.poll() is not None:
                raise Fail(f"{self.name}: master exited with {self.proc.returncode} while starting:\n"
                           f"{self.output_path.read_text(errors='replace')}\n{self.log_tail()}")
            try:
                line = banner(self.address, 25)
                if line.startswith("220 "):
                    return self
                last = line
            except OSError as e:
                last = str(e)
        self.stop()
        raise Fail(f"{self.name}: no 220 banner on {self.address}:25 within {timeout} s ({last})\n{self.log_tail()}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def instance_pids(self):
        """Processes of this instance, known by the MAIL_CONFIG that master(8)
        passes to every child (outlives the master)."""
        marker = f"MAIL_CONFIG={self.config_dir}".encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as environ:
                    if marker in environ.read().split(b"\0"):
                        with open(f"/proc/{entry}/stat") as stat:
                            if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                                found.append(int(entry))
            except (OSError, IndexError):
                continue
        return found

    def stop(self, timeout=10):
        """SIGTERM to master (what `postfix stop` does), then SIGKILL for
        whatever of this instance is left after `timeout`. Safe to call twice."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        left = []
        for _ in deadline_loop(timeout, 0.1):
            left = self.instance_pids()
            if not left:
                return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # MARK: The log

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=20):
        return "\n".join(self.log().splitlines()[-lines:])

    def log_offset(self):
        """The log's current length, for wait_for_log(since=…)."""
        return len(self.log())

    def wait_for_log(self, pattern, timeout=20, since=0):
        """The first match of `pattern` (a regex) in the log after offset
        `since`, waited for until the deadline; raises Fail with the log's tail."""
        regex = re.compile(pattern)
        for _ in deadline_loop(timeout):
            m = regex.search(self.log(), since)
            if m:
                return m
        raise Fail(f"{self.name}: no /{pattern}/ in {self.log_path} within {timeout} s:\n{self.log_tail()}")

    # MARK: Mailboxes

    def maildir(self, address):
        local, domain = address.lower().split("@")
        return self.mail_base / domain / local

    def maildir_messages(self, address):
        """Files in the mailbox's new/ and cur/, oldest first, as [(path, bytes)]."""
        out = []
        for sub in ("new", "cur"):
            d = self.maildir(address) / sub
            if d.is_dir():
                for f in d.iterdir():
                    try:
                        out.append((f.stat().st_mtime_ns, f, f.read_bytes()))
                    except FileNotFoundError:
                        continue
        return [(f, raw) for _, f, raw in sorted(out)]

    def messages_with(self, address, mark):
        needle = mark.encode() if isinstance(mark, str) else mark
        return [raw for _, raw in self.maildir_messages(address) if needle in raw]

    def wait_for_message(self, address, mark, timeout=30, copies=1):
        """Waits until the mailbox holds a message containing `mark`; fails
        when it holds another number of copies than `copies`. Returns the bytes."""
        found = []
        for _ in deadline_loop(timeout):
            found = self.messages_with(address, mark)
            if found:
                break
        else:
            raise Fail(f"{self.name}: nothing with {mark!r} in {self.maildir(address)} within {timeout} s; "
                       f"queue: {self.queue()}\n{self.log_tail()}")
        check_copies = len(self.messages_with(address, mark))
        if check_copies != copies:
            raise Fail(f"{self.name}: {check_copies} copies of {mark!r} for {address}, expected {copies}")
        return found[0]

    # MARK: Injecting mail and reading the queue

    def sendmail(self, sender, recipients, message, timeout=60):
        """Postfix's own sendmail(1) (-C our configuration): the message goes
        through pickup, cleanup and qmgr like locally submitted mail."""
        argv = ["sendmail", "-C", str(self.config_dir), "-f", sender, "-i", "--", *recipients]
        data = message.encode() if isinstance(message, str) else message
        status, output = run_tty(argv, timeout=timeout, input_bytes=data)
        if status != 0:
            raise Fail(f"{' '.join(argv)} exited {status}: {output}\n{self.log_tail()}")
        return output

    def smtp_send(self, sender, recipients, message, source=None, starttls=True):
        """SMTP to its own port 25 (from `source`, in mynetworks so it may relay)."""
        with smtplib.SMTP(self.address, 25, local_hostname="client.e2e.test", timeout=30,
                          source_address=(source, 0) if source else None) as s:
            if starttls:
                c = ssl.create_default_context(cafile=str(self.cert))
                c.check_hostname = False
                s.starttls(context=c)
            return s.sendmail(sender, recipients, message)

    def queue(self):
        """`postqueue -j`: one dict per queued message."""
        r = subprocess.run(["postqueue", "-c", str(self.config_dir), "-j"], capture_output=True, text=True,
                           timeout=30)
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def wait_queue_empty(self, timeout=30):
        q = []
        for _ in deadline_loop(timeout, 0.2):
            q = self.queue()
            if not q:
                return
        raise Fail(f"{self.name}: queue not empty after {timeout} s: {q}\n{self.log_tail()}")
