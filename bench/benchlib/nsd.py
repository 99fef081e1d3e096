"""An authoritative DNS server of our own for the outbound benchmark:
Debian's nsd with a configuration, zones, pid and state files in the run's
temp folder, on loopback addresses and ports the harness chooses. Ideas from
Tests/e2e/lib/dnsserver.py (the e2e harness's NSD runner), trimmed to what
the bench needs, plus a small stdlib DNS client to check it answers.

Response rate limiting is off (`rrl-ratelimit: 0`): its default drops
loopback queries (FIELD-NOTES "Test servers"). nsd runs in the foreground
(`-d`) as our child and dies with the harness (PR_SET_PDEATHSIG)."""

import ctypes
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import time

from .util import BenchError, popen_pids, tail

NSD_BINARY = os.environ.get("NSD", "/usr/sbin/nsd")


def die_with_parent():
    """Runs in the child before exec: SIGKILL it when the harness dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def zone_text(origin, records, ns_address="127.0.0.1"):
    """A complete zone: SOA, NS, the NS host's A record, then `records`
    (owner, type, data) with owners relative to the origin."""
    origin = origin.rstrip(".")
    lines = ["; written by Tern's bench/run", f"$ORIGIN {origin}.", "$TTL 300",
             f"@\tIN\tSOA\tns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300",
             f"@\tIN\tNS\tns.{origin}.", f"ns\tIN\tA\t{ns_address}"]
    lines += [f"{owner}\tIN\t{rtype}\t{data}" for owner, rtype, data in records]
    return "\n".join(lines) + "\n"


# A tiny DNS client: enough to see that nsd answers a zone.

def dns_query(address, port, name, rtype=6, timeout=0.5):
    """(rcode, authoritative, answer count) for one UDP query."""
    qid = random.randrange(1 << 16)
    qname = b"".join(bytes([len(label)]) + label.encode()
                     for label in name.rstrip(".").split(".") if label) + b"\0"
    packet = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + qname + struct.pack("!HH", rtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (address, port))
        while True:
            data, _ = sock.recvfrom(65535)
            if data[:2] == packet[:2]:
                break
    _, flags, _, answers, _, _ = struct.unpack_from("!HHHHHH", data, 0)
    return flags & 0x000F, bool(flags & 0x0400), answers


def free_port(address):
    """A port free for both UDP and TCP on address (the kernel's pick)."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.bind((address, 0))
            port = udp.getsockname()[1]
            try:
                tcp.bind((address, port))
            except OSError:
                continue
            return port
        finally:
            udp.close()
            tcp.close()
    raise BenchError(f"no free UDP+TCP port on {address}")


def port_free(address, port):
    """Whether address:port is free for UDP and TCP."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.bind((address, port))
        except OSError:
            return False
        finally:
            sock.close()
    return True


class NSD:
    """One nsd under `folder`, answering `zones` ({origin: text}) on every
    (address, port) in `listen`. Anything else it answers with REFUSED."""

    def __init__(self, folder, zones, listen):
        self.folder = folder
        self.zones = dict(zones)
        self.listen = list(listen)
        self.config = os.path.join(folder, "nsd.conf")
        self.log_path = os.path.join(folder, "nsd.log")
        self.output_path = os.path.join(folder, "nsd.out")
        self.process = None
        self.pids = set()

    def nameserver(self, index=0):
        address, port = self.listen[index]
        return f"{address}:{port}"

    def write(self):
        os.makedirs(self.folder, exist_ok=True)
        blocks = []
        for origin, text in self.zones.items():
            origin = origin.rstrip(".")
            zone_file = os.path.join(self.folder, f"{origin}.zone")
            with open(zone_file, "w") as handle:
                handle.write(text)
            blocks.append(f'zone:\n  name: "{origin}"\n  zonefile: "{zone_file}"\n')
        listen = "".join(f"  ip-address: {address}@{port}\n" for address, port in self.listen)
        folder = self.folder
        with open(self.config, "w") as handle:
            handle.write(f"""\
# written by Tern's bench/run
server:
{listen}  do-ip6: no
  username: ""
  chroot: ""
  database: ""
  zonesdir: "{folder}"
  pidfile: "{folder}/nsd.pid"
  xfrdfile: "{folder}/xfrd.state"
  xfrdir: "{folder}"
  zonelistfile: "{folder}/zone.list"
  logfile: "{self.log_path}"
  verbosity: 1
  server-count: 1
  hide-version: yes
  # Response rate limiting off: its default drops loopback queries.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no

""" + "\n".join(blocks))

    def start(self, timeout=20):
        """Write the files, start nsd, wait until every listener answers a
        SOA query for every zone authoritatively (or, without zones, answers
        at all)."""
        for address, port in self.listen:
            if not port_free(address, port):
                raise BenchError(f"{address}:{port} (UDP or TCP) is already in use; "
                                 "the benchmark's DNS server needs it")
        self.write()
        checker = shutil.which("nsd-checkconf") or "/usr/sbin/nsd-checkconf"
        if os.access(checker, os.X_OK):
            check = subprocess.run([checker, self.config], capture_output=True, text=True,
                                   timeout=30)
            if check.returncode != 0:
                raise BenchError(f"nsd-checkconf {self.config}: "
                                 f"{(check.stderr or check.stdout).strip()}")
        with open(self.output_path, "ab") as out:
            self.process = subprocess.Popen([NSD_BINARY, "-d", "-c", self.config],
                                            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                            preexec_fn=die_with_parent)
        popen_pids.add(self.process.pid)
        probes = [(address, port, origin) for address, port in self.listen
                  for origin in (self.zones or ["probe.invalid"])]
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while probes:
            if self.process.poll() is not None:
                raise BenchError(f"nsd exited with status {self.process.returncode} while "
                                 f"starting:\n{tail(self.output_path)}\n{tail(self.log_path)}")
            self.remember_children()
            for probe in list(probes):
                address, port, origin = probe
                try:
                    rcode, authoritative, answers = dns_query(address, port, origin, timeout=0.3)
                except (OSError, ValueError, struct.error) as failure:
                    last = f"{origin} at {address}:{port}: {failure}"
                    continue
                if not self.zones or (rcode == 0 and authoritative and answers):
                    probes.remove(probe)
                else:
                    last = f"{origin} at {address}:{port}: rcode {rcode}"
            if probes and time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"nsd did not answer within {timeout} s ({last}):\n"
                                 f"{tail(self.log_path)}")
            if probes:
                time.sleep(0.05)
        self.remember_children()
        return self

    def remember_children(self):
        """nsd forks a server and an xfrd process: remember them so that
        stop() can make sure they are gone."""
        if self.process is None:
            return
        todo = [self.process.pid]
        while todo:
            pid = todo.pop()
            self.pids.add(pid)
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as children:
                    todo += [int(c) for c in children.read().split() if int(c) not in self.pids]
            except OSError:
                continue

    def stop(self):
        """SIGTERM (nsd stops its children), SIGKILL after 10 s; then any
        child still there is killed."""
        if self.process is None:
            return
        self.remember_children()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        popen_pids.discard(self.process.pid)
        others = self.pids - {self.process.pid}
        deadline = time.monotonic() + 5
        while others and time.monotonic() < deadline:
            others = {pid for pid in others if running(pid)}
            time.sleep(0.05)
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process = None
        self.pids = set()


def running(pid):
    """Whether pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
