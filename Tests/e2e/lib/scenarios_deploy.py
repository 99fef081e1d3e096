"""Running for real: `user` (root only long enough to bind 25/587/465 and read keys), Maildirs written
as their owners when Tern stays root, and etc/tern.service.

The first two need root: they make Unix users of their own with useradd(8) (`--system`, no home) and
remove them with userdel(8) on every exit path. Their servers live in a folder of their own that others
may pass through (0711), since the unprivileged server must reach its files; the runner's own folder is
0700.
"""

import contextlib
import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import tempfile
import tomllib
from pathlib import Path

from harness import (REPO, TERN, Fail, Server, SwaksResult, await_delivery, check, check_delivered_basics,
                     deadline_loop, marker, port_free)
from registry import scenario

UNIT = REPO / "etc" / "tern.service"
SAMPLE = REPO / "etc" / "tern.toml"


@contextlib.contextmanager
def system_user(prefix):
    """A fresh system user and its group (useradd --system --user-group), removed afterwards."""
    name = f"{prefix}{random.randrange(16**6):06x}"
    r = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"useradd {name}: {r.stderr.strip()}")
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=60)


@contextlib.contextmanager
def passable_folder(ctx, name):
    """A temporary folder others may pass through (0711), removed afterwards unless KEEP=1."""
    path = Path(tempfile.mkdtemp(prefix=f"tern-e2e-{name}-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        if ctx.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def free_address(ctx, host):
    address = f"{ctx.subnet}.{host}"
    for port in (25, 587, 465):
        check(port_free(address, port), f"{address}:{port} is in use")
    return address


def needs_root():
    if os.geteuid() != 0:
        raise Fail("needs root: it binds ports below 1024, makes Unix users and checks file owners")


def owner(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid


def proc_status(path):
    """{field: value} of a /proc status file, whitespace in values folded."""
    fields = {}
    for line in Path(path).read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = " ".join(value.split())
    return fields


def deploy_server(ctx, folder, address, user=None, name="tern (deploy)", ports=(25, 587, 465)):
    """A Server under `folder` with `user = ...`, set up as README.md's "Put it on a VPS" says: the users and
    aliases files and the certificate and key owned by root and readable by the user's group only (they are
    read again after the switch: accounts watcher, reload)."""
    users, aliases = folder / "users", folder / "aliases"
    shutil.copyfile(ctx.users_file, users)
    shutil.copyfile(ctx.aliases_file, aliases)
    cert, key = ctx.cert, ctx.key
    if user is not None:
        tls = folder / "tls"
        tls.mkdir(mode=0o750)
        os.chown(tls, 0, user.pw_gid)
        cert, key = tls / "fullchain.pem", tls / "privkey.pem"
        shutil.copyfile(ctx.cert, cert)
        shutil.copyfile(ctx.key, key)
    for f in (users, aliases, cert, key):
        if user is not None:
            f.chmod(0o640)
            os.chown(f, 0, user.pw_gid)
    server = Server(folder / "server", address, cert, key, users, aliases, name=name, ports=ports)
    server.root.chmod(0o711)
    if user is not None:
        text = server.config.read_text()
        server.config.write_text(text.replace("\nstate_dir = ", f'\nuser = "{user.pw_name}"\nstate_dir = ', 1))
    server.config.chmod(0o644)
    return server


@scenario("deploy-run-as-user")
def run_as_user(ctx):
    """Started as root with `user` = a fresh system user: ports 25/587/465 bound, then every thread of the process
    runs as that user (real, effective, saved and file system uid and gid; only its groups; no capabilities); the
    state directory, spool, lock and pickup directory are handed to it; mail over 25 and over 587 with AUTH is
    delivered into Maildirs it owns; `tern queue list` as root still reaches it; a message another user leaves
    with `tern sendmail` while it is stopped is delivered after the restart, with that user as sender."""
    needs_root()
    address = free_address(ctx, 230)
    with system_user("terne2e") as user, passable_folder(ctx, "deploy") as folder:
        server = deploy_server(ctx, folder, address, user)
        mail = server.mail
        mail.mkdir(mode=0o750)
        os.chown(mail, user.pw_uid, user.pw_gid)
        ctx.servers.append(server)
        try:
            server.start()
            details = check_process(server.proc.pid, user)
            check(f"running as user {user.pw_name}" in server.log(), "no 'running as user' line in the log")

            # The state directory and everything Tern uses in it are the user's.
            state = server.state
            for path in (state, state / "spool", state / "spool" / "env", state / "spool" / "tmp",
                         state / "tern.lock", state / "pickup"):
                check(owner(path) == (user.pw_uid, user.pw_gid),
                      f"{path} is owned by {owner(path)}, not {user.pw_name} ({user.pw_uid}, {user.pw_gid})")
            check(state.stat().st_mode & 0o777 == 0o751, f"state_dir mode {state.stat().st_mode & 0o777:o}, not 751")
            check((state / "pickup").stat().st_mode & 0o7777 == 0o3733,
                  f"pickup mode {(state / 'pickup').stat().st_mode & 0o7777:o}, not 3733")

            # Mail still flows: port 25, and 587 with STARTTLS and AUTH (the TLS key was read as root).
            mark = marker("deploy-25")
            r = swaks_to(ctx, server, 25, "bob@e2e.test", mark)
            check(r.rc == 0, f"swaks on port 25 failed: {r.tail()}")
            found = await_delivery(server, mark, {"bob@e2e.test": 1})
            check_delivered_basics(found["bob@e2e.test"][0], protocol="ESMTP")
            mark = marker("deploy-587")
            r = swaks_to(ctx, server, 587, "alice@e2e.test", mark, "-tls", "--tls-verify", "--tls-ca-path", str(ctx.ca),
                         "--auth-user", "alice@e2e.test", "--auth-password", "alice-S3cret!pw",
                         sender="alice@e2e.test")
            check(r.rc == 0, f"swaks on port 587 failed: {r.tail()}")
            found = await_delivery(server, mark, {"alice@e2e.test": 1})
            delivered = found["alice@e2e.test"][0]
            maildir = server.maildir("alice@e2e.test")
            for path in (mail / "e2e.test", maildir, maildir / "new", delivered.path):
                check(owner(path) == (user.pw_uid, user.pw_gid), f"{path} is owned by {owner(path)}, not the user")

            # The control socket, bound after the switch, answers root.
            env = dict(os.environ, TERN_CONFIG=str(server.config))
            r = subprocess.run([str(TERN), "queue", "list", "--json"], capture_output=True, env=env, timeout=60)
            check(r.returncode == 0, f"tern queue list as root: exit {r.returncode} {r.stderr!r}")

            # Reload (SIGHUP) as the user: the group-readable users file and certificate are read again.
            server.proc.send_signal(signal.SIGHUP)
            wanted = ("reload: users and aliases", "reload: TLS certificate")
            for _ in deadline_loop(20):
                lines = [l for l in server.log().splitlines() if any(w in l for w in wanted)]
                if len(lines) == len(wanted):
                    break
            check(len(lines) == len(wanted) and not any("NOT" in l for l in lines),
                  "reload after the switch:\n" + "\n".join(lines or [server.log_tail()]))

            # Another user's message left in the pickup directory while Tern is stopped.
            server.stop()
            mark = marker("deploy-pickup")
            nobody = pwd.getpwnam("nobody")
            r = subprocess.run([str(TERN), "sendmail", "alice@e2e.test"], input=f"Subject: {mark}\n\nfrom cron\n".encode(),
                               capture_output=True, env=env, timeout=60, user=nobody.pw_uid, group=nobody.pw_gid,
                               extra_groups=[], umask=0o077)
            check(r.returncode == 0, f"tern sendmail as nobody, server stopped: exit {r.returncode} {r.stderr!r}")
            pending = [p for p in (state / "pickup").iterdir() if not p.name.startswith(".")]
            check(len(pending) == 1, f"the pickup directory holds {pending}")
            check(owner(pending[0]) == (nobody.pw_uid, user.pw_gid) and pending[0].stat().st_mode & 0o777 == 0o640,
                  f"pickup file {owner(pending[0])} mode {pending[0].stat().st_mode & 0o777:o}: "
                  f"not nobody's, in the user's group, 0640")
            server.start()
            found = await_delivery(server, mark, {"alice@e2e.test": 1})
            sender = found["alice@e2e.test"][0].header("Return-Path")
            check(sender == "<nobody@mx.e2e.test>", f"Return-Path {sender!r}, expected <nobody@mx.e2e.test>")
            check_process(server.proc.pid, user)
        finally:
            server.stop()
    return f"uid {user.pw_uid}: {details}"


def swaks_to(ctx, server, port, to, mark, *extra, sender="friend@example.org"):
    """swaks against `server` (not the runner's main one)."""
    cmd = ["swaks", "--server", f"{server.address}:{port}", "--ehlo", "client.e2e.test", "--timeout", "20",
           "--to", to, "--from", sender, "--header", f"Subject: {mark}", *extra]
    r = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    transcript = (r.stdout + r.stderr).decode("utf-8", "replace")
    ctx.note_transcript(" ".join(cmd), transcript)
    return SwaksResult(r.returncode, transcript)


def check_process(pid, user):
    """Every thread of `pid` runs as `user` for good; returns a summary."""
    groups = {g for g in os.getgrouplist(user.pw_name, user.pw_gid)}
    tasks = sorted(os.listdir(f"/proc/{pid}/task"))
    check(len(tasks) > 1, f"only {len(tasks)} thread(s) in /proc/{pid}/task")
    for task in tasks:
        fields = proc_status(f"/proc/{pid}/task/{task}/status")
        ids = f"{user.pw_uid} {user.pw_uid} {user.pw_uid} {user.pw_uid}"
        check(fields.get("Uid") == ids, f"thread {task}: Uid {fields.get('Uid')}, expected {ids} "
                                        "(real, effective, saved, file system)")
        ids = f"{user.pw_gid} {user.pw_gid} {user.pw_gid} {user.pw_gid}"
        check(fields.get("Gid") == ids, f"thread {task}: Gid {fields.get('Gid')}, expected {ids}")
        check({int(g) for g in fields.get("Groups", "").split()} <= groups,
              f"thread {task}: supplementary groups {fields.get('Groups')}, not only {user.pw_name}'s {groups}")
        for cap in ("CapPrm", "CapEff", "CapAmb"):
            check(int(fields.get(cap, "0"), 16) == 0, f"thread {task}: {cap} {fields.get(cap)}, expected none")
    return f"{len(tasks)} threads, all uid/gid {user.pw_uid}/{user.pw_gid}, no capabilities"


@scenario("deploy-maildir-owner")
def maildir_owner(ctx):
    """Tern started as root without `user`: a Maildir under a directory another user owns is made by that user
    (the Maildir, cur/new/tmp and the message are theirs; nothing root's appears in it), while a mailbox whose
    path root owns all along is written as root."""
    needs_root()
    address = free_address(ctx, 231)
    with system_user("terne2m") as owner_user, passable_folder(ctx, "maildir-owner") as folder:
        server = deploy_server(ctx, folder, address, ports=(25,), name="tern (maildir owner)")
        # mail/e2e.test/alice belongs to the user, as a home directory would; bob's path is root's.
        home = server.mail / "e2e.test" / "alice"
        home.mkdir(parents=True)
        home.chmod(0o700)
        os.chown(home, owner_user.pw_uid, owner_user.pw_gid)
        for path in (server.mail, server.mail / "e2e.test"):
            path.chmod(0o755)
        ctx.servers.append(server)
        try:
            server.start()
            mark = marker("maildir-owner")
            r = swaks_to(ctx, server, 25, "alice@e2e.test,bob@e2e.test", mark)
            check(r.rc == 0, f"swaks on port 25 failed: {r.tail()}")
            found = await_delivery(server, mark, {"alice@e2e.test": 1, "bob@e2e.test": 1})
            theirs = (owner_user.pw_uid, owner_user.pw_gid)
            maildir = server.maildir("alice@e2e.test")
            made = [maildir, maildir / "cur", maildir / "new", maildir / "tmp", found["alice@e2e.test"][0].path]
            for path in made:
                check(owner(path) == theirs, f"{path} is owned by {owner(path)}, not {owner_user.pw_name} {theirs}")
            stray = [p for p in maildir.rglob("*") if owner(p) != theirs]
            check(not stray, f"files in {maildir} not owned by {owner_user.pw_name}: {stray}")
            bob = found["bob@e2e.test"][0]
            check(owner(bob.path) == (0, 0), f"{bob.path} in root's tree is owned by {owner(bob.path)}, not root")
            for d in found.values():
                check_delivered_basics(d[0], protocol="ESMTP")
        finally:
            server.stop()
    return f"alice's Maildir made as {owner_user.pw_name} ({owner_user.pw_uid}), bob's as root"


# MARK: etc/tern.service

def read_unit(text):
    """A systemd unit as {section: [(key, value)]}: comments and blank lines skipped, a key may repeat,
    backslash-continued lines joined. Raises Fail on anything that is not a section, key=value or comment."""
    sections = {}
    current = None
    pending = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = pending + raw.strip()
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        m = re.fullmatch(r"\[([A-Za-z]+)\]", line)
        if m:
            current = sections.setdefault(m.group(1), [])
            continue
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*)", line)
        check(m is not None and current is not None, f"etc/tern.service:{number}: not a section or key=value: {raw!r}")
        current.append((m.group(1), m.group(2)))
    return sections


def values(sections, section, key):
    return [v for k, v in sections.get(section, []) if k == key]


def one(sections, section, key):
    found = values(sections, section, key)
    check(len(found) == 1, f"[{section}] {key}= appears {len(found)} times, expected once")
    return found[0]


@scenario("deploy-systemd-unit")
def systemd_unit(ctx):
    """etc/tern.service parses as a unit with the keys the README promises: `tern serve --config
    /etc/tern/tern.toml`, reload by SIGHUP, stop by SIGTERM with a bounded wait, restart on failure, started as
    root (no User=; Tern switches to `user` itself) with only the capabilities that needs, ProtectSystem=strict
    with the sample's state_dir and Maildir tree writable, NoNewPrivileges, PrivateTmp, ProtectHome; the
    User=tern alternative is there, commented; `systemd-analyze verify` accepts it (when installed)."""
    text = UNIT.read_text()
    unit = read_unit(text)
    check(one(unit, "Unit", "Description"), "no Description")
    check("network-online.target" in " ".join(values(unit, "Unit", "After")), "not ordered after network-online.target")
    exec_start = one(unit, "Service", "ExecStart")
    check(re.fullmatch(r"/\S+/tern serve --config /etc/tern/tern\.toml", exec_start),
          f"ExecStart={exec_start!r} is not `<path>/tern serve --config /etc/tern/tern.toml`")
    check(one(unit, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID", "ExecReload is not kill -HUP $MAINPID")
    check(one(unit, "Service", "KillSignal") == "SIGTERM", "KillSignal is not SIGTERM")
    check(re.fullmatch(r"\d+s?", one(unit, "Service", "TimeoutStopSec")), "TimeoutStopSec is not a number of seconds")
    check(one(unit, "Service", "Restart") == "on-failure", "Restart is not on-failure")
    expected = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "ProtectHome": "read-only"}
    for key, value in expected.items():
        check(one(unit, "Service", key) == value, f"{key}={one(unit, 'Service', key)!r}, expected {value}")
    check(not values(unit, "Service", "User"), "User= is set: as shipped, Tern starts as root and switches to `user`")
    capabilities = set(" ".join(values(unit, "Service", "CapabilityBoundingSet")).split())
    needed = {"CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE"}
    check(needed <= capabilities, f"CapabilityBoundingSet lacks {sorted(needed - capabilities)}")
    check(not any(c in capabilities for c in ("CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_NET_ADMIN")),
          f"CapabilityBoundingSet is wider than needed: {sorted(capabilities)}")
    writable = set(" ".join(values(unit, "Service", "ReadWritePaths")).split())
    sample = tomllib.loads(SAMPLE.read_text())
    # The Maildir tree's top below /var (or wherever): "/var/mail" of "/var/mail/{domain}/{user}/Maildir".
    maildir_top = "/".join(sample["mailbox"]["maildir"].split("/")[:3])
    for path in (sample.get("state_dir", "/var/lib/tern"), maildir_top):
        check(path in writable, f"ReadWritePaths {sorted(writable)} lacks {path} (etc/tern.toml)")
    # The other way, documented in the file: started as tern with only CAP_NET_BIND_SERVICE.
    commented = [l.lstrip("# ").strip() for l in text.splitlines() if l.startswith("#")]
    for line in ("User=tern", "AmbientCapabilities=CAP_NET_BIND_SERVICE"):
        check(line in commented, f"the User=tern alternative lacks a commented {line!r}")
    check(values(unit, "Install", "WantedBy") == ["multi-user.target"], "not WantedBy=multi-user.target")

    analyze = shutil.which("systemd-analyze")
    if not analyze:
        return f"{sum(len(v) for v in unit.values())} settings; systemd-analyze not installed: not verified by systemd"
    # verify wants ExecStart's program to exist: point it at the binary under test, in a copy.
    with tempfile.TemporaryDirectory(prefix="tern-unit-") as tmp:
        copy = Path(tmp) / "tern.service"
        copy.write_text(text.replace(exec_start.split()[0], str(TERN.resolve()), 1))
        r = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
        complaints = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
        check(r.returncode == 0 and not complaints,
              f"systemd-analyze verify: exit {r.returncode}\n" + "\n".join(complaints))
        r = subprocess.run([analyze, "security", "--offline=yes", str(copy)], capture_output=True, text=True,
                           timeout=60)
        exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout + r.stderr)
    return "verified by systemd-analyze" + (f"; exposure {exposure.group(1)}" if exposure else "")
