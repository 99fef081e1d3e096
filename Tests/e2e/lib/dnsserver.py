"""A real authoritative DNS server for the scenarios: Debian's nsd, started
on a loopback address and port of our own with zones written from Python,
plus a tiny DNS client (stdlib only) to see that it answers.

    zones = {"b.test": zone_text("b.test", [("@", "MX", 10, "mx.b.test."),
                                            ("mx", "A", "127.100.7.21")])}
    with NSD(tmp / "dns", zones) as dns:
        dns.nameserver                       # "127.0.0.1:40123", for [dns] nameservers
        dns.query("b.test", "MX").answers    # [("b.test.", "MX", 300, (10, "mx.b.test."))]

Response rate limiting is off (`rrl-ratelimit: 0`): its default dropped
loopback queries. nsd runs in the foreground (`-d`) as our child, without
changing user or root, and dies with the runner (PR_SET_PDEATHSIG). Touches
only its folder and one UDP+TCP port.
"""

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
from pathlib import Path

from harness import Fail, _die_with_parent, deadline_loop

NSD_BINARY = os.environ.get("NSD", "/usr/sbin/nsd")

# MARK: Zone text

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33,
         "TLSA": 52, "ANY": 255}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def txt_strings(text):
    """TXT data as zone-file strings: split into quoted strings of at most
    255 octets (RFC 1035 character-strings), quotes and backslashes escaped,
    bytes outside printable ASCII as \\DDD."""
    data = text.encode() if isinstance(text, str) else bytes(text)
    chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
    out = []
    for chunk in chunks:
        s = ""
        for b in chunk:
            if b in (0x22, 0x5C):
                s += "\\" + chr(b)
            elif 0x20 <= b < 0x7F:
                s += chr(b)
            else:
                s += f"\\{b:03d}"
        out.append(f'"{s}"')
    return " ".join(out)


def rr_line(owner, rtype, *data, ttl=None):
    """One zone-file line. MX: (preference, host); TXT: one string of any
    length (split here); A/AAAA/CNAME/NS/PTR: one value; anything else: the
    data fields as written. Null MX (RFC 7505) is ("@", "MX", 0, ".")."""
    rtype = rtype.upper()
    if rtype == "MX":
        preference, host = data
        rdata = f"{int(preference)} {host}"
    elif rtype == "TXT":
        rdata = " ".join(txt_strings(d) for d in data)
    else:
        rdata = " ".join(str(d) for d in data)
    ttl_text = f"{ttl} " if ttl is not None else ""
    return f"{owner}\t{ttl_text}IN\t{rtype}\t{rdata}"


def zone_text(origin, records, ttl=300, serial=1, ns_address="127.0.0.1"):
    """A complete zone: $ORIGIN, $TTL, SOA, NS ns.<origin> with an A record,
    then `records`. Each record is a tuple (owner, type, data...) for
    rr_line, or a dict {owner: [(type, data...), ...]}; owners are relative
    to the origin ("@" for the apex) unless they end with a dot."""
    origin = origin.rstrip(".")
    lines = [f"; written by Tests/e2e", f"$ORIGIN {origin}.", f"$TTL {ttl}",
             f"@\tIN\tSOA\tns.{origin}. hostmaster.{origin}. {serial} 3600 600 86400 {ttl}",
             f"@\tIN\tNS\tns.{origin}.",
             f"ns\tIN\tA\t{ns_address}"]
    if isinstance(records, dict):
        records = [(owner,) + tuple(rr) for owner, rrs in records.items() for rr in rrs]
    for rec in records:
        lines.append(rr_line(*rec))
    return "\n".join(lines) + "\n"


# MARK: A tiny DNS client

class DNSResponse:
    def __init__(self, rcode, flags, answers, authority):
        self.rcode = rcode
        self.flags = flags
        self.answers = answers      # [(name, type name, ttl, data)]
        self.authority = authority

    @property
    def rcode_name(self):
        return RCODES.get(self.rcode, str(self.rcode))

    @property
    def authoritative(self):
        return bool(self.flags & 0x0400)

    @property
    def truncated(self):
        return bool(self.flags & 0x0200)

    def values(self, rtype=None):
        return [d for _, t, _, d in self.answers if rtype is None or t == rtype]

    def __repr__(self):
        return f"DNSResponse({self.rcode_name}, aa={self.authoritative}, answers={self.answers})"


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("idna") if not label.isascii() else label.encode()
            if len(raw) > 63:
                raise ValueError(f"label too long: {label}")
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def build_query(name, rtype, qid=None, recursion_desired=False):
    """A DNS query packet: (packet bytes, id)."""
    qid = random.randrange(1 << 16) if qid is None else qid
    code = TYPES[rtype.upper()] if isinstance(rtype, str) else int(rtype)
    header = struct.pack("!HHHHHH", qid, 0x0100 if recursion_desired else 0, 1, 0, 0, 0)
    return header + encode_name(name) + struct.pack("!HH", code, 1), qid


def _read_name(packet, offset):
    labels, jumped, end, hops = [], False, offset, 0
    while True:
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            pointer = struct.unpack_from("!H", packet, offset)[0] & 0x3FFF
            if not jumped:
                end = offset + 2
            jumped, offset, hops = True, pointer, hops + 1
            if hops > 64:
                raise ValueError("compression loop")
            continue
        offset += 1
        if length == 0:
            break
        labels.append(packet[offset:offset + length].decode("ascii", "replace"))
        offset += length
    return ".".join(labels) + ".", (end if jumped else offset)


def _rdata(packet, rtype, offset, length):
    raw = packet[offset:offset + length]
    if rtype == 1:
        return socket.inet_ntop(socket.AF_INET, raw)
    if rtype == 28:
        return socket.inet_ntop(socket.AF_INET6, raw)
    if rtype in (2, 5, 12):
        return _read_name(packet, offset)[0]
    if rtype == 15:
        return (struct.unpack_from("!H", packet, offset)[0], _read_name(packet, offset + 2)[0])
    if rtype == 16:
        strings, i = [], 0
        while i < len(raw):
            n = raw[i]
            strings.append(raw[i + 1:i + 1 + n])
            i += 1 + n
        return b"".join(strings).decode("utf-8", "replace")
    if rtype == 6:
        mname, o = _read_name(packet, offset)
        rname, o = _read_name(packet, o)
        return (mname, rname) + struct.unpack_from("!IIIII", packet, o)
    return raw


def parse_response(packet, qid=None):
    qid_got, flags, qd, an, ns, _ = struct.unpack_from("!HHHHHH", packet, 0)
    if qid is not None and qid_got != qid:
        raise ValueError(f"answer id {qid_got} for query {qid}")
    if not flags & 0x8000:
        raise ValueError("not a response")
    offset = 12
    for _ in range(qd):
        _, offset = _read_name(packet, offset)
        offset += 4
    sections = []
    for count in (an, ns):
        records = []
        for _ in range(count):
            name, offset = _read_name(packet, offset)
            rtype, _, ttl, length = struct.unpack_from("!HHIH", packet, offset)
            offset += 10
            records.append((name, TYPE_NAMES.get(rtype, str(rtype)), ttl, _rdata(packet, rtype, offset, length)))
            offset += length
        sections.append(records)
    return DNSResponse(flags & 0x000F, flags, sections[0], sections[1])


def dns_query(address, port, name, rtype="A", timeout=1.0):
    """One query over UDP (and over TCP when the answer is truncated)."""
    packet, qid = build_query(name, rtype)
    s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(packet, (address, port))
        while True:
            data, _ = s.recvfrom(65535)
            if data[:2] == packet[:2]:
                break
    finally:
        s.close()
    response = parse_response(data, qid)
    if not response.truncated:
        return response
    with socket.create_connection((address, port), timeout=timeout) as t:
        t.sendall(struct.pack("!H", len(packet)) + packet)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
            chunk = t.recv(65535)
            if not chunk:
                raise ConnectionError("TCP answer cut short")
            buf += chunk
    return parse_response(buf[2:], qid)


# MARK: The server

def free_port(address):
    """A port free for both UDP and TCP on `address` (the kernel's pick)."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind((address, 0))
            port = u.getsockname()[1]
            try:
                t.bind((address, port))
            except OSError:
                continue
            return port
        finally:
            u.close()
            t.close()
    raise RuntimeError(f"no free UDP+TCP port on {address}")


def _running(pid):
    """Whether `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class NSD:
    """One nsd with its own configuration, zones, state files and log under `root`.

    zones: {origin: zone text} (see zone_text); "." is the root zone.
    port None picks a free one. `unanswered`: origins whose zone file is
    meant not to load (no SOA), so that nsd answers SERVFAIL for every name
    in them; start() does not wait for those. Usable as a context manager;
    stop() is safe to call twice."""

    def __init__(self, root, zones, address="127.0.0.1", port=None, verbosity=2, unanswered=()):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.address = address
        self.port = port or free_port(address)
        self.zones = dict(zones)
        self.unanswered = {origin.rstrip(".") or "." for origin in unanswered}
        self.verbosity = verbosity
        self.config = self.root / "nsd.conf"
        self.log_path = self.root / "nsd.log"
        self.output_path = self.root / "nsd.out"
        self.proc = None
        self.pids = set()

    @property
    def nameserver(self):
        """The "address:port" for Tern's `[dns] nameservers`."""
        return f"{self.address}:{self.port}"

    def write(self):
        r = self.root
        zone_blocks = []
        for origin, text in self.zones.items():
            origin = origin.rstrip(".") or "."
            stem = "".join(c if c.isalnum() or c in ".-_" else "_" for c in origin.strip("."))
            zone_file = r / f"{stem or 'root'}.zone"
            zone_file.write_text(text)
            zone_blocks.append(f"zone:\n  name: \"{origin}\"\n  zonefile: \"{zone_file}\"\n")
        self.config.write_text(f"""\
# written by Tests/e2e
server:
  ip-address: {self.address}@{self.port}
  do-ip6: no
  username: ""
  chroot: ""
  database: ""
  zonesdir: "{r}"
  pidfile: "{r}/nsd.pid"
  xfrdfile: "{r}/xfrd.state"
  xfrdir: "{r}"
  zonelistfile: "{r}/zone.list"
  logfile: "{self.log_path}"
  verbosity: {self.verbosity}
  server-count: 1
  hide-version: yes
  # Response rate limiting off: its default drops loopback queries.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no

""" + "\n".join(zone_blocks))

    def start(self, timeout=20):
        """Writes the files, starts nsd and waits until it answers a SOA query
        for every zone authoritatively; raises Fail with the log otherwise."""
        self.write()
        checker = shutil.which("nsd-checkconf") or "/usr/sbin/nsd-checkconf"
        if os.access(checker, os.X_OK):
            r = subprocess.run([checker, str(self.config)], capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise Fail(f"nsd-checkconf {self.config}: {(r.stderr or r.stdout).strip()}")
        out = open(self.output_path, "ab")
        self.proc = subprocess.Popen([NSD_BINARY, "-d", "-c", str(self.config)], stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=out, preexec_fn=_die_with_parent)
        out.close()
        pending = {origin.rstrip(".") or "." for origin in self.zones} - self.unanswered
        last = "no answer yet"
        for _ in deadline_loop(timeout, 0.05):
            if self.proc.poll() is not None:
                raise Fail(f"nsd exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            self._remember_children()
            for origin in sorted(pending):
                try:
                    r = dns_query(self.address, self.port, origin, "SOA", timeout=0.3)
                    if r.rcode == 0 and r.authoritative and r.values("SOA"):
                        pending.discard(origin)
                    else:
                        last = f"{origin} SOA: {r}"
                except (OSError, ValueError) as e:
                    last = f"{origin} SOA: {e}"
            if not pending:
                self._remember_children()
                return self
        self.stop()
        raise Fail(f"nsd on {self.nameserver} did not answer for {sorted(pending)} within {timeout} s "
                   f"({last}):\n{self.log_tail()}")

    def _remember_children(self):
        """nsd forks a server and an xfrd process; remember them so stop()
        can make sure they are gone."""
        if self.proc is None:
            return
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            self.pids.add(pid)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            todo += [int(c) for c in children if int(c) not in self.pids]

    def query(self, name, rtype="A", timeout=1.0):
        return dns_query(self.address, self.port, name, rtype, timeout)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM (nsd stops its children), SIGKILL after 10 s; then any
        child of ours still there is killed."""
        if self.proc is None:
            return
        self._remember_children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        # Its children exit on their own once the main process is gone;
        # whatever still runs after 5 s is killed (they renamed themselves
        # "nsd: server 1", so they are known by the pids seen while running).
        others = self.pids - {self.proc.pid}
        for _ in deadline_loop(5):
            others = {pid for pid in others if _running(pid)}
            if not others:
                break
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.pids = set()

    def log(self):
        text = ""
        for p in (self.output_path, self.log_path):
            try:
                text += p.read_text(errors="replace")
            except FileNotFoundError:
                pass
        return text

    def log_tail(self, lines=20):
        return "\n".join(self.log().splitlines()[-lines:])

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
