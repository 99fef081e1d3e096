"""The destination of the outbound benchmark: Postfix's smtp-sink(1) on
127.0.0.60:25, standing in for the MX hosts of all 50 recipient domains.

smtp-sink accepts every message and throws it away. Two of its options tell
the harness what arrived:

- `-c` prints running counters ("sess=N quit=N mesg=N\\r") to stdout each
  time a message's final "." is received (and when a session ends); a
  reader thread timestamps each one, so the harness knows when the first
  and the last message arrived without polling.
- `-D FILE` appends every transaction (client address, MAIL and RCPT
  arguments, header and body) to one dump file, kept on tmpfs (/dev/shm)
  where writing it costs no disk I/O and no journal commit the server under
  test would have to wait for. After the run the dump is checked: exactly
  the expected number of messages, each from the server's source address,
  each recipient the expected number of times.

smtp-sink announces PIPELINING, 8BITMIME, DSN, ENHANCEDSTATUSCODES and
XCLIENT/XFORWARD, but not STARTTLS: neither server uses TLS here."""

import collections
import os
import re
import signal
import subprocess
import threading
import time

from .util import BenchError, popen_pids, tail

SMTP_SINK_CANDIDATES = ("/usr/sbin/smtp-sink", "/usr/bin/smtp-sink")
COUNTER = re.compile(rb"sess=(\d+) quit=(\d+) mesg=(\d+)")


def find_smtp_sink():
    for candidate in SMTP_SINK_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def dump_folder(root):
    """Where the dump file goes: /dev/shm when it is a tmpfs, else root."""
    shm = "/dev/shm"
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                if fields[1] == shm and fields[2] == "tmpfs":
                    return shm
    except OSError:
        pass
    return root


class SmtpSink:
    def __init__(self, root, address, port=25, backlog=1024, max_connections=1024):
        self.binary = find_smtp_sink()
        if self.binary is None:
            raise BenchError("smtp-sink (Debian's postfix package) is missing")
        self.address = address
        self.port = port
        self.backlog = backlog
        self.max_connections = max_connections
        self.log_path = os.path.join(root, "smtp-sink.log")
        self.dump_dir = os.path.join(dump_folder(root), f"tern-bench-sink-{os.getpid()}")
        self.dump_path = os.path.join(self.dump_dir, "dump")
        self.process = None
        self.reader = None
        self.lock = threading.Lock()
        self.count = 0
        self.first_at = None     # time.time() when the first message arrived
        self.last_at = None      # ... and the latest one
        self.target = None
        self.target_at = None
        self.reached = threading.Event()

    def start(self, target):
        """A fresh sink (empty dump) that sets `reached` when `target`
        messages have arrived."""
        self.stop()
        os.makedirs(self.dump_dir, exist_ok=True)
        os.chmod(self.dump_dir, 0o777)
        if os.path.exists(self.dump_path):
            os.unlink(self.dump_path)
        self.count, self.first_at, self.last_at = 0, None, None
        self.target, self.target_at = target, None
        self.reached.clear()
        argv = [self.binary, "-c", "-u", "postfix", "-h", "sink.bench",
                "-m", str(self.max_connections), "-D", self.dump_path,
                f"{self.address}:{self.port}", str(self.backlog)]
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=self.log)
        popen_pids.add(self.process.pid)
        self.reader = threading.Thread(target=self.read_counters, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 10
        while not self.listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"smtp-sink did not start on {self.address}:{self.port}:\n"
                                 f"{tail(self.log_path)}")
            time.sleep(0.05)

    def listening(self):
        from .util import tcp_listeners
        return self.address in tcp_listeners(self.port)

    def read_counters(self):
        stream = self.process.stdout
        pending = b""
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return
            now = time.time()
            pending += chunk
            *records, pending = pending.split(b"\r")
            for record in records:
                match = COUNTER.search(record)
                if not match:
                    continue
                messages = int(match.group(3))
                with self.lock:
                    if messages > self.count:
                        if self.count == 0:
                            self.first_at = now
                        self.count, self.last_at = messages, now
                        if self.target and messages >= self.target and self.target_at is None:
                            self.target_at = now
                            self.reached.set()

    def snapshot(self):
        with self.lock:
            return self.count, self.first_at, self.last_at, self.target_at

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        popen_pids.discard(self.process.pid)
        if self.reader is not None:
            self.reader.join(5)
        self.process.stdout.close()
        self.log.close()
        self.process = None

    def check_dump(self, client_address, expected):
        """Compare the dump with what should have arrived: {recipient: n}.
        Returns a list of problems (empty when everything matches)."""
        problems = []
        clients = collections.Counter()
        recipients = collections.Counter()
        messages = 0
        try:
            with open(self.dump_path, "rb") as dump:
                for line in dump:
                    if line.startswith(b"X-Client-Addr: "):
                        messages += 1
                        clients[line[15:].strip().decode("ascii", "replace")] += 1
                    elif line.startswith(b"X-Rcpt-Args: "):
                        address = line[13:].split()[0].strip(b"<>").decode("ascii", "replace")
                        recipients[address.lower()] += 1
        except FileNotFoundError:
            return [f"no dump file {self.dump_path}"]
        total = sum(expected.values())
        if messages != total:
            problems.append(f"{messages} messages in the sink's dump, expected {total}")
        strangers = {c: n for c, n in clients.items() if c != client_address}
        if strangers:
            problems.append(f"messages from unexpected clients: {dict(strangers)}")
        wrong = {r: (recipients.get(r, 0), n) for r, n in expected.items()
                 if recipients.get(r, 0) != n}
        extra = {r: n for r, n in recipients.items() if r not in expected}
        if wrong:
            sample = dict(list(wrong.items())[:5])
            problems.append(f"{len(wrong)} recipients with the wrong count (got, expected), "
                            f"e.g. {sample}")
        if extra:
            problems.append(f"unexpected recipients: {dict(list(extra.items())[:5])}")
        return problems

    def remove_dump(self):
        try:
            os.unlink(self.dump_path)
        except FileNotFoundError:
            pass
        try:
            os.rmdir(self.dump_dir)
        except OSError:
            pass
