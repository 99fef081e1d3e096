"""`make run`: `tern serve` with no configuration, as a newcomer starts it."""

import os
import re
import socket
import subprocess
import tempfile
from pathlib import Path

from harness import TERN, check, deadline_loop
from registry import scenario


def start_trial(directory):
    """Starts `tern serve` in `directory`; returns the process and the ports it printed."""
    proc = subprocess.Popen([str(TERN), "serve"], cwd=directory, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    text = b""
    ports = {}
    try:
        for _ in deadline_loop(30):
            line = proc.stdout.readline()
            if not line:
                break
            text += line
            m = re.search(rb"(MX|submission|submissions) \(.*\):\s+127\.0\.0\.1:(\d+)", line)
            if m:
                ports[m.group(1).decode()] = int(m.group(2))
            if b"Read it:" in line:
                break
    except Exception:
        proc.kill()
        raise
    return proc, ports, text.decode("utf-8", "replace")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@scenario("trial-make-run")
def trial(ctx):
    """`tern serve` with no configuration: state in ./var, a self-signed certificate, the three trial ports
    printed with the next steps; a user added with `tern user add` receives a message sent as the printed
    swaks line says; a port already taken moves to the next free one."""
    with tempfile.TemporaryDirectory(prefix="tern-trial-") as tmp:
        # Hold 127.0.0.1:2525 (if free) so the fallback is exercised.
        blocker = socket.socket()
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            blocker.bind(("127.0.0.1", 2525))
            blocker.listen(1)
            held = True
        except OSError:
            held = False  # someone else has it: the fallback is exercised anyway
        proc, ports, text = start_trial(tmp)
        try:
            check(set(ports) == {"MX", "submission", "submissions"}, f"ports not printed: {text!r}")
            check(ports["MX"] != 2525, f"MX stayed on the taken port 2525: {ports}")
            check("tern user add" in text and "swaks" in text, "next steps missing")
            var = Path(tmp) / "var"
            for f in ("tls/cert.pem", "tls/key.pem", "users", "aliases"):
                check((var / f).is_file(), f"var/{f} missing")
            check(oct((var / "tls/key.pem").stat().st_mode & 0o777) == "0o600", "key.pem is not 0600")
            r = subprocess.run([str(TERN), "user", "add", "--users", str(var / "users"), "you@localhost"],
                               input=b"trial-password\n", capture_output=True, timeout=30)
            check(r.returncode == 0, f"tern user add failed: {r.stderr!r}")
            r = subprocess.run(["swaks", "--server", f"127.0.0.1:{ports['MX']}", "--to", "you@localhost",
                                "--from", "friend@example.org", "--header", "Subject: trial"],
                               capture_output=True, timeout=60)
            check(r.returncode == 0, f"swaks to the trial MX failed: {r.stdout[-300:]!r}")
            new = var / "mail/localhost/you/Maildir/new"
            for _ in deadline_loop(20):
                if new.is_dir() and any(new.iterdir()):
                    break
            files = list(new.iterdir()) if new.is_dir() else []
            check(len(files) == 1, f"{len(files)} messages in {new}")
            body = files[0].read_bytes()
            check(b"Subject: trial" in body and body.startswith(b"Return-Path: <friend@example.org>"),
                  "delivered message is not the one sent")
            r = subprocess.run(["swaks", "--server", f"127.0.0.1:{ports['submission']}", "-tls",
                                "--auth-user", "you@localhost", "--auth-password", "trial-password",
                                "--to", "you@localhost", "--from", "you@localhost", "--header", "Subject: trial-587"],
                               capture_output=True, timeout=60)
            check(r.returncode == 0, f"swaks AUTH on the trial submission port failed: {r.stdout[-300:]!r}")
        finally:
            stop(proc)
            if held:
                blocker.close()
        return f"ports {ports['MX']}/{ports['submission']}/{ports['submissions']}"


@scenario("serve-bad-configuration")
def bad_configuration(ctx):
    """`tern serve --config` refuses a broken file (every problem with file:line and key), a missing file, and a
    port in use (named), exits non-zero, and leaves nothing listening."""
    with tempfile.TemporaryDirectory(prefix="tern-badcfg-") as tmp:
        cfg = Path(tmp) / "tern.toml"
        cfg.write_text('hostname = "mx.bad.test"\ndomains = ["bad.test"]\nstate_dir = "state"\n'
                       '[[listener]]\naddress = "127.0.0.1:0"\nrole = "mx"\n'
                       '[limits]\nrecipents = 10\nmessage_size = "lots"\n')
        r = subprocess.run([str(TERN), "serve", "--config", str(cfg)], capture_output=True, timeout=30)
        err = r.stderr.decode("utf-8", "replace")
        check(r.returncode != 0, "a broken configuration started")
        check(f"{cfg}:8" in err and "limits.recipents" in err and "recipients" in err,
              f"unknown key not named with file:line and a suggestion: {err!r}")
        check(f"{cfg}:9" in err and "message_size" in err, f"bad size not reported: {err!r}")
        r = subprocess.run([str(TERN), "serve", "--config", str(Path(tmp) / "missing.toml")], capture_output=True,
                           timeout=30)
        check(r.returncode != 0 and b"missing.toml" in r.stderr, f"missing file: rc {r.returncode} {r.stderr!r}")
        # A port in use: hold one, then ask Tern for it.
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        try:
            (Path(tmp) / "users").write_text("")
            cfg.write_text('hostname = "mx.bad.test"\ndomains = ["bad.test"]\nstate_dir = "state"\n'
                           f'[[listener]]\naddress = "127.0.0.1:{port}"\nrole = "mx"\n'
                           '[accounts]\nusers = "users"\naliases = ""\n')
            r = subprocess.run([str(TERN), "serve", "--config", str(cfg)], capture_output=True, timeout=30)
            err = r.stderr.decode("utf-8", "replace")
            check(r.returncode != 0 and f"127.0.0.1:{port}" in err and "in use" in err,
                  f"port in use not named: rc {r.returncode} {err!r}")
        finally:
            holder.close()
    return "3 refusals"
