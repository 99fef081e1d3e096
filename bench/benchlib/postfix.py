"""A stock Postfix of our own: private configuration, queue and data
directories under the run's temp folder, smtpd on ADDRESS:25, and every
message for bench.test delivered by virtual(8) into one Maildir.

Durability is Postfix's default: cleanup(8) fsyncs the queue file before
smtpd answers 250, and virtual(8) fsyncs the Maildir file in tmp/ before
linking it into new/. Nothing here turns that off."""

import grp
import os
import pwd
import shlex
import signal
import time

from .util import (BenchError, ServerUnavailable, children_of, pid_alive, reap_orphans,
                   run_tty, say, tail, wait_for_banner, warn)

DOMAIN = "bench.test"
MAILBOX_USER = "nobody"       # owner of the Maildir; virtual(8) wants a uid >= 100
MAILBOX_GROUP = "nogroup"

# Every service runs unchained (chroot column "n"): Debian's own master.cf
# chroots most of them into the system queue directory, which is not ours.
MASTER_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
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
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixServer:
    name = "postfix"

    def __init__(self, root, address, max_sessions, extra_options=()):
        self.address = address
        self.port = 25
        self.max_sessions = max_sessions
        self.extra_options = list(extra_options)
        self.base = os.path.join(root, "postfix")
        self.config_dir = os.path.join(self.base, "conf")
        self.queue_dir = os.path.join(self.base, "queue")
        self.data_dir = os.path.join(self.base, "data")
        self.log_file = os.path.join(self.base, "postfix.log")
        self.mail_base = os.path.join(root, "postfix-mail")
        self.maildir = os.path.join(self.mail_base, "Maildir")
        self.master_pid = None

    # Configuration

    def main_cf(self):
        user = pwd.getpwnam(MAILBOX_USER)
        group = grp.getgrnam(MAILBOX_GROUP)
        # Enough processes that every session gets its own smtpd while
        # cleanup, qmgr and virtual still find slots.
        process_limit = max(200, 2 * self.max_sessions + 50)
        settings = [
            ("compatibility_level", "3.6"),
            ("queue_directory", self.queue_dir),
            ("data_directory", self.data_dir),
            # The listener's address is in master.cf. inet_interfaces must
            # name addresses configured on an interface: 127.0.0.3 is
            # reachable through lo's 127.0.0.0/8 route but not configured,
            # and Postfix refuses it ("no local interface found").
            ("inet_interfaces", "loopback-only"),
            ("inet_protocols", "ipv4"),
            ("myhostname", DOMAIN),
            ("mydomain", DOMAIN),
            ("mydestination", ""),
            ("local_recipient_maps", ""),
            ("relay_domains", ""),
            ("mynetworks", "127.0.0.0/8"),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("biff", "no"),
            ("smtpd_banner", "$myhostname ESMTP"),
            # No client-name lookups (Tern's bench config turns its own off too).
            ("smtpd_peername_lookup", "no"),
            ("virtual_mailbox_domains", DOMAIN),
            ("virtual_mailbox_base", self.mail_base),
            # "Maildir/" with the slash: Maildir format, one for every address.
            ("virtual_mailbox_maps", "static:Maildir/"),
            ("virtual_uid_maps", f"static:{user.pw_uid}"),
            ("virtual_gid_maps", f"static:{group.gr_gid}"),
            ("default_process_limit", str(process_limit)),
            # anvil(8) limits: off, or above anything the benchmark does.
            ("smtpd_client_connection_count_limit", "1000"),
            ("smtpd_client_connection_rate_limit", "0"),
            ("smtpd_client_message_rate_limit", "0"),
            ("smtpd_client_recipient_rate_limit", "0"),
            ("smtpd_client_new_tls_session_rate_limit", "0"),
            ("smtpd_client_auth_rate_limit", "0"),
            # Postfix has no syslog here; postlogd(8) writes this file.
            ("maillog_file", self.log_file),
        ]
        lines = ["# Generated by Tern's bench/run: a stock Postfix for the benchmark."]
        lines += [f"{name} = {value}" for name, value in settings]
        if self.extra_options:
            lines.append("# --postfix-option")
            lines += [option.replace("=", " = ", 1) for option in self.extra_options]
        return "\n".join(lines) + "\n"

    def master_cf(self):
        smtpd = f"{self.address}:{self.port} inet n - n - - smtpd\n"
        return "# Generated by Tern's bench/run.\n" + smtpd + MASTER_SERVICES

    def prepare(self):
        for directory in (self.config_dir, self.queue_dir, self.data_dir):
            os.makedirs(directory, exist_ok=True)
        mail_owner = pwd.getpwnam("postfix")
        os.chown(self.data_dir, mail_owner.pw_uid, mail_owner.pw_gid)
        with open(os.path.join(self.config_dir, "main.cf"), "w") as main_cf:
            main_cf.write(self.main_cf())
        with open(os.path.join(self.config_dir, "master.cf"), "w") as master_cf:
            master_cf.write(self.master_cf())
        self.reset_maildir()
        # `postfix check` creates the queue's subdirectories with the right
        # owners and validates the configuration.
        status, output = run_tty(["postfix", "-c", self.config_dir, "check"])
        if status != 0:
            raise BenchError(f"postfix check failed for {self.config_dir}:\n{output}")

    # Queue folders that can hold mail; deferred/ and defer/ hash into subfolders.
    QUEUES = ("maildrop", "incoming", "active", "deferred", "defer", "bounce", "trace",
              "hold", "corrupt", "saved", "flush")

    def reset(self):
        """Before a run, with the instance stopped: an empty queue (a failed
        run may have left mail in it) and an empty Maildir. The files are
        removed directly: `postsuper -d ALL` runs as the mail owner and
        cannot open the root-owned maillog_file."""
        for queue in self.QUEUES:
            top = os.path.join(self.queue_dir, queue)
            for directory, _, files in os.walk(top):
                for name in files:
                    os.unlink(os.path.join(directory, name))
        self.reset_maildir()

    def reset_maildir(self):
        """An empty Maildir owned by the mailbox user."""
        user = pwd.getpwnam(MAILBOX_USER)
        group = grp.getgrnam(MAILBOX_GROUP)
        for path in (self.mail_base, self.maildir):
            os.makedirs(path, exist_ok=True)
            os.chown(path, user.pw_uid, group.gr_gid)
        for sub in ("new", "cur", "tmp"):
            path = os.path.join(self.maildir, sub)
            os.makedirs(path, exist_ok=True)
            os.chown(path, user.pw_uid, group.gr_gid)
            with os.scandir(path) as entries:
                for entry in entries:
                    os.unlink(entry.path)

    # Life cycle

    def start(self):
        status, output = run_tty(["postfix", "-c", self.config_dir, "start"])
        if status != 0:
            raise ServerUnavailable(f"postfix start failed:\n{output}\n{tail(self.log_file)}")
        self.master_pid = self.read_master_pid()
        banner = wait_for_banner(self.address, self.port, timeout=30,
                                 alive=lambda: self.master_pid and pid_alive(self.master_pid))
        if banner is None:
            self.stop()
            raise ServerUnavailable(f"postfix did not greet on {self.address}:{self.port}\n"
                                    f"{tail(self.log_file)}")
        return banner

    def read_master_pid(self):
        path = os.path.join(self.queue_dir, "pid", "master.pid")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(path) as pid_file:
                    return int(pid_file.read().split()[0])
            except (OSError, ValueError, IndexError):
                time.sleep(0.05)
        raise ServerUnavailable(f"no {path} after postfix start")

    def pids(self):
        """The instance's processes: master and everything it spawned."""
        if not self.master_pid:
            return []
        return [self.master_pid] + children_of(self.master_pid)

    def stop(self):
        if self.master_pid is None and not self.instance_pids():
            return
        status, output = run_tty(["postfix", "-c", self.config_dir, "stop"], timeout=60)
        if status != 0 and "not running" not in output:
            warn(f"postfix stop: {output}")
        self.master_pid = None
        self.kill_leftovers()

    def instance_pids(self):
        """Processes of this instance, found by the MAIL_CONFIG master(8)
        exports to every child (survives the master's exit)."""
        marker = f"MAIL_CONFIG={self.config_dir}".encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as environ:
                    if marker in environ.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
        return found

    def kill_leftovers(self):
        """Wait for the instance's processes to go (and reap them: this
        process is their subreaper), killing what is left after 10 s."""
        deadline = time.monotonic() + 10
        while True:
            reap_orphans()
            left = self.instance_pids()
            if not left:
                return
            if time.monotonic() > deadline:
                for pid in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                say(f"killed leftover postfix processes {left}")
                time.sleep(0.1)
                reap_orphans()
                return
            time.sleep(0.1)

    def describe(self):
        status, output = run_tty(["postconf", "-d", "-h", "mail_version"])
        return {"version": output if status == 0 else "unknown",
                "config_dir": self.config_dir,
                "address": f"{self.address}:{self.port}",
                "maildir": self.maildir + "/"}


class PostfixOutbound(PostfixServer):
    """The same stock Postfix for the outbound benchmark: smtpd on
    ADDRESS:25 accepts mail for bench.local, virtual_alias_maps forwards
    each uNN@bench.local to uNN@dNN.bench, and smtp(8) delivers it to the
    MX that DNS names (the sink). No local delivery at all.

    Postfix's SMTP client resolves through the C library, which reads
    /etc/resolv.conf and always asks port 53. The master is started inside
    a private mount namespace (`unshare -m`, propagation private) where a
    file of ours saying `nameserver RESOLVER` is bind-mounted over
    /etc/resolv.conf; master(8) and every daemon it spawns inherit that
    namespace, so they see only the benchmark's nsd, and the host's
    resolv.conf is never changed (the mount exists only in the namespace
    and disappears with its last process)."""

    def __init__(self, root, address, resolver, aliases, local_domain, extra_options=()):
        super().__init__(root, address, max_sessions=0, extra_options=extra_options)
        self.resolver = resolver
        self.aliases = dict(aliases)
        self.local_domain = local_domain
        self.resolv_conf = os.path.join(self.base, "resolv.conf")
        self.virtual_map = os.path.join(self.config_dir, "virtual")
        self.maildir = None
        self.defer_smtp = False

    def main_cf(self):
        settings = [
            ("compatibility_level", "3.6"),
            ("queue_directory", self.queue_dir),
            ("data_directory", self.data_dir),
            ("inet_interfaces", "loopback-only"),   # see PostfixServer.main_cf
            ("inet_protocols", "ipv4"),
            ("myhostname", f"mx.{self.local_domain}"),
            ("mydomain", self.local_domain),
            ("myorigin", "$mydomain"),
            ("mydestination", ""),
            ("local_recipient_maps", ""),
            ("local_transport", "error:5.1.1 no local delivery in the benchmark"),
            ("relay_domains", ""),
            ("mynetworks", "127.0.0.0/8"),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("biff", "no"),
            ("append_dot_mydomain", "no"),
            ("smtpd_banner", "$myhostname ESMTP"),
            # No client-name lookups (Tern's bench config turns its own off too).
            ("smtpd_peername_lookup", "no"),
            # bench.local exists only as aliases to the 50 remote domains.
            ("virtual_alias_domains", self.local_domain),
            ("virtual_alias_maps", f"texthash:{self.virtual_map}"),
            # Outgoing connections come from this address (the sink's dump
            # tells the two servers apart), with opportunistic STARTTLS as
            # Tern does (the sink offers none, so neither uses TLS).
            ("smtp_bind_address", self.address),
            ("smtp_tls_security_level", "may"),
            # anvil(8) limits: off, or above anything the benchmark does.
            ("smtpd_client_connection_count_limit", "1000"),
            ("smtpd_client_connection_rate_limit", "0"),
            ("smtpd_client_message_rate_limit", "0"),
            ("smtpd_client_recipient_rate_limit", "0"),
            ("smtpd_client_new_tls_session_rate_limit", "0"),
            ("smtpd_client_auth_rate_limit", "0"),
            ("maillog_file", self.log_file),
        ]
        if self.defer_smtp:
            # While the queue is filled: qmgr defers every smtp delivery
            # ("deferred transport") until the queue is flushed.
            settings.append(("defer_transports", "smtp"))
        lines = ["# Generated by Tern's bench/run --outbound: a stock Postfix, "
                 "default concurrency and durability."]
        lines += [f"{name} = {value}" for name, value in settings]
        if self.extra_options:
            lines.append("# --postfix-option")
            lines += [option.replace("=", " = ", 1) for option in self.extra_options]
        return "\n".join(lines) + "\n"

    def master_cf(self):
        smtpd = f"{self.address}:{self.port} inet n - n - - smtpd\n"
        tlsmgr = "tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n"
        return "# Generated by Tern's bench/run --outbound.\n" + smtpd + tlsmgr + MASTER_SERVICES

    def write_config(self):
        with open(os.path.join(self.config_dir, "main.cf"), "w") as main_cf:
            main_cf.write(self.main_cf())

    def prepare(self):
        for directory in (self.config_dir, self.queue_dir, self.data_dir):
            os.makedirs(directory, exist_ok=True)
        mail_owner = pwd.getpwnam("postfix")
        os.chown(self.data_dir, mail_owner.pw_uid, mail_owner.pw_gid)
        self.write_config()
        with open(os.path.join(self.config_dir, "master.cf"), "w") as master_cf:
            master_cf.write(self.master_cf())
        with open(self.virtual_map, "w") as virtual:
            virtual.write("".join(f"{alias} {target}\n" for alias, target in self.aliases.items()))
        with open(self.resolv_conf, "w") as resolv:
            resolv.write(f"# Tern's bench/run: Postfix's view of /etc/resolv.conf\n"
                         f"nameserver {self.resolver}\n")
        os.chmod(self.resolv_conf, 0o644)
        status, output = run_tty(["postfix", "-c", self.config_dir, "check"])
        if status != 0:
            raise BenchError(f"postfix check failed for {self.config_dir}:\n{output}")

    def reset(self):
        for queue in self.QUEUES:
            top = os.path.join(self.queue_dir, queue)
            for directory, _, files in os.walk(top):
                for name in files:
                    os.unlink(os.path.join(directory, name))

    def reset_maildir(self):
        pass

    def start(self):
        """`postfix start` inside a private mount namespace whose
        /etc/resolv.conf names the benchmark's nsd."""
        script = (f"mount --bind {shlex.quote(self.resolv_conf)} /etc/resolv.conf && "
                  f"exec postfix -c {shlex.quote(self.config_dir)} start")
        status, output = run_tty(["unshare", "--mount", "--propagation", "private",
                                  "sh", "-c", script])
        if status != 0:
            raise ServerUnavailable(f"postfix start (in a mount namespace) failed:\n{output}\n"
                                    f"{tail(self.log_file)}")
        self.master_pid = self.read_master_pid()
        banner = wait_for_banner(self.address, self.port, timeout=30,
                                 alive=lambda: self.master_pid and pid_alive(self.master_pid))
        if banner is None:
            self.stop()
            raise ServerUnavailable(f"postfix did not greet on {self.address}:{self.port}\n"
                                    f"{tail(self.log_file)}")
        seen = self.resolver_seen()
        if f"nameserver {self.resolver}" not in seen:
            self.stop()
            raise ServerUnavailable("Postfix's master does not see the benchmark's "
                                    f"resolv.conf (it sees {seen!r})")
        return banner

    def resolver_seen(self):
        """/etc/resolv.conf as the master process sees it (through its root
        in its own mount namespace)."""
        try:
            with open(f"/proc/{self.master_pid}/root/etc/resolv.conf") as resolv:
                return resolv.read()
        except OSError as failure:
            return str(failure)

    def queue_counts(self):
        """Files per queue folder (deferred/ and defer/ are hashed)."""
        counts = {}
        for queue in ("maildrop", "incoming", "active", "deferred", "hold"):
            total = 0
            for _, _, files in os.walk(os.path.join(self.queue_dir, queue)):
                total += len(files)
            counts[queue] = total
        return counts

    def flush(self):
        """`postqueue -f`: deliver everything queued now."""
        return run_tty(["postqueue", "-c", self.config_dir, "-f"], timeout=60)

    def describe(self):
        self.maildir = ""
        info = super().describe()
        info.pop("maildir", None)
        info["resolver"] = f"{self.resolver}:53 (resolv.conf in a private mount namespace)"
        return info
