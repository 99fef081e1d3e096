"""Small helpers shared by the harness: messages, commands on a pty, /proc,
TCP listeners and the SMTP banner probe."""

import ctypes
import os
import pty
import select
import socket
import subprocess
import sys
import time


def say(message):
    print(f"bench: {message}", flush=True)


def warn(message):
    print(f"bench: warning: {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A failure that stops the whole run, with a message for the user."""


class ServerUnavailable(Exception):
    """A server under test could not be built or started; the run goes on
    without it."""


def run_tty(argv, timeout=120, env=None):
    """Run argv with stdout and stderr on a pseudo-terminal and return
    (exit status, output).

    Postfix's commands write their messages to stderr only when stderr is a
    terminal (otherwise only to syslog, which this machine may not have), so
    a plain pipe would swallow the reason for a failure. The master daemon
    started by `postfix start` may keep the terminal open after the command
    returns, so this stops reading once the command itself has exited."""
    master_fd, slave_fd = pty.openpty()
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave_fd,
                                   stderr=slave_fd, env=env, close_fds=True)
        popen_pids.add(process.pid)
    finally:
        os.close(slave_fd)
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
                break
            if exited:
                break
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise BenchError(f"{' '.join(argv)} did not finish within {timeout} s")
    finally:
        os.close(master_fd)
    status = process.wait()
    popen_pids.discard(process.pid)
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return status, text.strip()


def read_status_kib(pid, field):
    """A `VmRSS:`-style field of /proc/PID/status in KiB, or None."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def read_rss_kib(pid):
    """Resident set size (VmRSS) from /proc/PID/statm, in KiB, or None.
    statm is the cheapest place to read it: the sampler reads it for every
    server process ten times a second."""
    try:
        fd = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
        try:
            return int(os.read(fd, 256).split()[1]) * PAGE_KIB
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return None


def read_pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def children_of(pid):
    """Direct children of pid: /proc/PID/task/PID/children when the kernel
    has it, else a scan of /proc/*/stat."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(p) for p in children.read().split()]
    except OSError:
        pass
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return found


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tcp_listeners(port):
    """IPv4 addresses listening on port (from /proc/net/tcp), as strings."""
    addresses = []
    try:
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                local, state = fields[1], fields[3]
                if state != "0A":  # LISTEN
                    continue
                host_hex, port_hex = local.split(":")
                if int(port_hex, 16) != port:
                    continue
                raw = bytes.fromhex(host_hex)[::-1]
                addresses.append(socket.inet_ntoa(raw))
    except OSError:
        pass
    return addresses


def smtp_banner(host, port, timeout=1.0):
    """The first line a server sends on connect, or None if it did not
    answer. Sends QUIT when it got a 220."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            data = b""
            while b"\n" not in data:
                chunk = conn.recv(1024)
                if not chunk:
                    break
                data += chunk
            line = data.split(b"\n", 1)[0].decode("ascii", "replace").strip()
            if line.startswith("220"):
                try:
                    conn.sendall(b"QUIT\r\n")
                    conn.recv(1024)
                except OSError:
                    pass
            return line or None
    except OSError:
        return None


def wait_for_banner(host, port, timeout, alive=lambda: True):
    """Poll host:port until it greets with 220. Returns the banner, or None
    if the deadline passed or alive() turned false (the server died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        banner = smtp_banner(host, port)
        if banner and banner.startswith("220"):
            return banner
        if not alive():
            return None
        time.sleep(0.05)
    return None


def tail(path, lines=15):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 8192))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def filesystem_type(path):
    """The type of the filesystem holding path, from /proc/mounts."""
    path = os.path.realpath(path)
    best, best_type = "", "unknown"
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                mount_point = fields[1].replace("\\040", " ")
                if (path == mount_point or path.startswith(mount_point.rstrip("/") + "/")) \
                        and len(mount_point) >= len(best):
                    best, best_type = mount_point, fields[2]
    except OSError:
        pass
    return best_type


PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Adopt orphaned descendants (prctl PR_SET_CHILD_SUBREAPER), so that
    reap_orphans() can collect the daemons Postfix leaves behind."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


# Children started with subprocess.Popen that wait for themselves: never
# reaped here, or Popen.wait() would lose their exit status.
popen_pids = set()


def reap_orphans():
    """Collect exited children of this process other than popen_pids."""
    for pid in children_of(os.getpid()):
        if pid in popen_pids:
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == b"Z":
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def reap_all(timeout=3.0):
    """At the end: wait up to timeout for adopted daemons to exit and reap
    them."""
    deadline = time.monotonic() + timeout
    while True:
        reap_orphans()
        left = [pid for pid in children_of(os.getpid()) if pid not in popen_pids]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
