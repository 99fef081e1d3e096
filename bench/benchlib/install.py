"""Getting Postfix (and its smtp-source) onto the machine without leaving
Debian's system Postfix running."""

import os
import shutil
import subprocess

from .util import BenchError, pid_alive, run_tty, say, tcp_listeners, warn

PRESEED = "postfix postfix/main_mailer_type select No configuration"
APT_LINE = "env DEBIAN_FRONTEND=noninteractive apt-get install -y postfix"
POLICY_RC_D = "/usr/sbin/policy-rc.d"
SYSTEM_MASTER_PID = "/var/spool/postfix/pid/master.pid"

SMTP_SOURCE_CANDIDATES = ("/usr/sbin/smtp-source", "/usr/bin/smtp-source")


def find_smtp_source():
    for candidate in SMTP_SOURCE_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("smtp-source")


def postfix_present():
    return bool(shutil.which("postfix") or os.access("/usr/sbin/postfix", os.X_OK)) \
        and find_smtp_source() is not None


def ensure_postfix():
    """Install Debian's postfix if postfix or smtp-source is missing. As a
    normal user, print the exact commands and stop."""
    if postfix_present():
        return
    if os.geteuid() != 0:
        raise BenchError(
            "Postfix and smtp-source are missing. Install them as root, then run again:\n"
            f"  echo '{PRESEED}' | sudo debconf-set-selections\n"
            f"  sudo {APT_LINE}")
    say("installing postfix (for smtp-source and the reference server)")
    subprocess.run(["debconf-set-selections"], input=PRESEED + "\n", text=True, check=True)
    # Keep the package's maintainer scripts from starting the system service:
    # invoke-rc.d obeys policy-rc.d, and exit status 101 means "forbidden".
    added_policy = False
    if not os.path.exists(POLICY_RC_D):
        with open(POLICY_RC_D, "w") as policy:
            policy.write("#!/bin/sh\n# temporary, from Tern's bench/run\nexit 101\n")
        os.chmod(POLICY_RC_D, 0o755)
        added_policy = True
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        install = ["apt-get", "install", "-y", "-q", "postfix"]
        if subprocess.run(install, env=env).returncode != 0:
            say("apt-get install failed; refreshing the package lists once and retrying")
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(install, env=env, check=True)
    finally:
        if added_policy:
            os.unlink(POLICY_RC_D)
    stop_system_postfix()
    if not postfix_present():
        raise BenchError("postfix was installed but smtp-source was not found")


def stop_system_postfix():
    """Stop the system Postfix the package may have started, and keep systemd
    from starting it at boot."""
    if os.path.isdir("/run/systemd/system") and shutil.which("systemctl"):
        subprocess.run(["systemctl", "disable", "--now", "postfix"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if system_postfix_running():
        status, output = run_tty(["postfix", "stop"])
        if status != 0:
            warn(f"could not stop the system postfix: {output}")


def system_postfix_running():
    try:
        with open(SYSTEM_MASTER_PID) as pid_file:
            return pid_alive(int(pid_file.read().split()[0]))
    except (OSError, ValueError, IndexError):
        return False


def check_ports(addresses):
    """Refuse to start when something already holds port 25 on an address
    the servers need (or on the wildcard address)."""
    listening = tcp_listeners(25)
    if system_postfix_running():
        warn("a system Postfix is running (pid in /var/spool/postfix/pid/master.pid); "
             "it is left alone")
    if "127.0.0.1" in listening:
        warn("something listens on 127.0.0.1:25; the benchmark does not use it")
    clash = [address for address in listening if address in addresses or address == "0.0.0.0"]
    if clash:
        raise BenchError(f"port 25 is already taken on {', '.join(clash)}; "
                         "stop that server (or the previous bench run) first")
