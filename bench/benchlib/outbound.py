"""`bench/run --outbound`: how fast Tern and a stock Postfix deliver a full
queue to remote domains, through a real DNS server, to a local smtp-sink.

Set-up (one of each for the whole run, see README "Outbound"):

- nsd on 127.0.0.62:53 with 50 zones d00.bench … d49.bench, each
  `MX 10 mx.dNN.bench.` and `mx.dNN.bench. A 127.0.0.60`, plus empty
  sender.test and bench.local zones. Both servers ask it: Tern through
  `[dns] nameservers = ["127.0.0.62:53"]`, Postfix through the C library
  and a resolv.conf bind-mounted in its private mount namespace.
- smtp-sink on 127.0.0.60:25 (fresh for every run) counting messages.
- For Tern only, a second nsd on 127.0.0.62:<free port> that knows
  sender.test and bench.local but none of the .bench domains: it answers
  REFUSED for them at once.

One measured run of a server:

1. Fill the queue: smtp-source sends MESSAGES messages of SIZE bytes to the
   server's port 25, one recipient each, round-robin over u00@bench.local …
   u49@bench.local (one smtp-source per recipient, all in parallel); the
   server's aliases forward uNN@bench.local to uNN@dNN.bench. Nothing may
   be delivered yet:
   - Postfix runs with `defer_transports = smtp`: qmgr defers every
     message ("deferred transport") into the deferred queue. The harness
     waits until the deferred queue holds all of them.
   - Tern runs with `[dns] nameservers` pointing at the REFUSED server, so
     every delivery attempt fails at the MX lookup and is deferred, and
     `retry_min = retry_max = "1s"`. When smtp-source has had its 250 for
     every message, they are all in Tern's spool.
2. Stop the server (SIGTERM / `postfix stop`) and rewrite its configuration:
   Postfix without defer_transports, Tern with the real nsd. Wait 2 s (so
   every 1 s retry time of Tern's entries has passed) and for idle CPUs.
3. Release, and start the clock:
   - Postfix: `postfix start`, wait for its 220 banner, then the clock
     starts and `postqueue -f` asks it to deliver the whole deferred queue.
   - Tern (no flush command yet): the clock starts, then `tern serve` is
     started; on start it recovers its spool and schedules every entry at
     its next-attempt time, which has passed. Tern's start-up is inside the
     measured time (its time to the 220 banner is recorded too).
4. Stop the clock when the sink has counted MESSAGES messages; sample the
   server's memory (all processes for Postfix) until then.
5. Stop the server and the sink and check the sink's dump: exactly
   MESSAGES messages, all from the server's source address, each recipient
   uNN@dNN.bench the expected number of times.

Nothing is subtracted: delivered msg/s = MESSAGES / (last arrival at the
sink - release)."""

import os
import subprocess
import threading
import time

from . import measure
from .nsd import NSD, free_port, zone_text
from .sink import SmtpSink
from .util import (ServerUnavailable, pid_alive, popen_pids, say, tail, wait_for_banner,
                   warn)

SINK_ADDRESS = "127.0.0.60"
RESOLVER_ADDRESS = "127.0.0.62"
LOCAL_DOMAIN = "bench.local"
SENDER_DOMAIN = "sender.test"
SENDER = f"bench@{SENDER_DOMAIN}"
RESTART_PAUSE = 2.0


def domain_names(count):
    width = max(2, len(str(count - 1)))
    return [f"d{i:0{width}d}.bench" for i in range(count)]


def recipient_aliases(domains):
    """{uNN@bench.local: uNN@dNN.bench} in domain order."""
    aliases = {}
    for domain in domains:
        user = "u" + domain.split(".")[0][1:]
        aliases[f"{user}@{LOCAL_DOMAIN}"] = f"{user}@{domain}"
    return aliases


def shares(messages, parts):
    """Messages per recipient when message i goes to recipient i mod parts."""
    return [messages // parts + (1 if k < messages % parts else 0) for k in range(parts)]


def real_zones(domains):
    zones = {domain: zone_text(domain, [("@", "MX", f"10 mx.{domain}."),
                                        ("mx", "A", SINK_ADDRESS)],
                               ns_address=RESOLVER_ADDRESS)
             for domain in domains}
    zones.update(empty_zones())
    return zones


def empty_zones():
    # Looked up while mail is accepted (Tern's SPF/DMARC on the sender's
    # domain); empty zones answer NXDOMAIN/NODATA at once.
    return {name: zone_text(name, [], ns_address=RESOLVER_ADDRESS)
            for name in (SENDER_DOMAIN, LOCAL_DOMAIN)}


class Environment:
    """The DNS servers and the sink shared by all runs."""

    def __init__(self, root, domains, with_refuser):
        self.real = NSD(os.path.join(root, "nsd"), real_zones(domains),
                        [(RESOLVER_ADDRESS, 53)])
        self.refuser = None
        if with_refuser:
            self.refuser = NSD(os.path.join(root, "nsd-refuse"), empty_zones(),
                               [(RESOLVER_ADDRESS, free_port(RESOLVER_ADDRESS))])
        self.sink = SmtpSink(root, SINK_ADDRESS)

    def start(self):
        self.real.start()
        say(f"nsd answers {len(self.real.zones)} zones on {self.real.nameserver()}")
        if self.refuser:
            self.refuser.start()
            say(f"nsd without the .bench zones (REFUSED) on {self.refuser.nameserver()}")

    def stop(self):
        self.sink.stop()
        self.sink.remove_dump()
        if self.refuser:
            self.refuser.stop()
        self.real.stop()

    def helper_pids(self):
        pids = list(self.real.pids)
        if self.refuser:
            pids += list(self.refuser.pids)
        if self.sink.process is not None:
            pids.append(self.sink.process.pid)
        return pids


def inject(smtp_source, address, aliases, counts, size, log_path):
    """One smtp-source per recipient, all at once, each keeping its session
    open (-d). Returns (seconds, problems)."""
    processes = []
    start = time.perf_counter()
    with open(log_path, "wb") as log:
        for (alias, _), count in zip(aliases.items(), counts):
            if count == 0:
                continue
            argv = [smtp_source, "-d", "-s", "1", "-m", str(count), "-l", str(size),
                    "-M", SENDER_DOMAIN, "-f", SENDER, "-t", alias, f"{address}:25"]
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT)
            popen_pids.add(process.pid)
            processes.append(process)
        problems = []
        for process in processes:
            try:
                status = process.wait(timeout=600)
            except subprocess.TimeoutExpired:
                process.kill()
                status = process.wait()
            popen_pids.discard(process.pid)
            if status != 0:
                problems.append(status)
    elapsed = time.perf_counter() - start
    if problems:
        return elapsed, [f"{len(problems)} smtp-source processes failed: {tail(log_path, 3)}"]
    return elapsed, []


def process_cpu(pids):
    """utime + stime of pids (not their children), in seconds."""
    return measure.cpu_seconds(pids, None)


def wait_for_sink(sink, messages, alive, stall_timeout, poll=0.1):
    """Until the sink has counted `messages`, the server died, or nothing
    arrived for stall_timeout. Returns None or an error message."""
    last_count, progress_at = -1, time.monotonic()
    while not sink.reached.wait(poll):
        count = sink.snapshot()[0]
        if count != last_count:
            last_count, progress_at = count, time.monotonic()
        if not alive():
            return f"the server exited: {count} of {messages} messages reached the sink"
        if time.monotonic() - progress_at > stall_timeout:
            return (f"no progress for {stall_timeout:.0f} s: {count} of {messages} messages "
                    "reached the sink")
    return None


class Run:
    """Shared bookkeeping of one measured run."""

    def __init__(self, server, env, messages, size, settings):
        self.server = server
        self.env = env
        self.messages = messages
        self.size = size
        self.settings = settings
        self.result = {"server": server.name, "messages": messages, "size": size}

    def measure_delivery(self, release, started_server_at=None):
        """Start sampling, call release() (which returns the clock's start,
        a time.time()), wait for the sink, stop sampling."""
        sink = self.env.sink
        sampler = measure.MemorySampler(self.server.pids, self.settings["sample_interval"])
        machine_before, own_before = measure.machine_busy_seconds(), measure.own_cpu_seconds()
        helpers_before = process_cpu(self.env.helper_pids())
        cpu_before = self.server_cpu()
        t0 = release(sampler)
        error = wait_for_sink(sink, self.messages, self.server_alive,
                              self.settings["stall_timeout"])
        count, first_at, _, target_at = sink.snapshot()
        cpu_after = self.server_cpu()
        helpers_after = process_cpu(self.env.helper_pids())
        machine = measure.machine_busy_seconds() - machine_before
        own = measure.own_cpu_seconds() - own_before
        if sampler.is_alive():
            sampler.stop()
        r = self.result
        r["cpu_s"] = round(cpu_after - cpu_before, 2)
        r["helpers_cpu_s"] = round(helpers_after - helpers_before, 2)
        r["harness_cpu_s"] = round(own, 2)
        r["other_cpu_s"] = round(max(0.0, machine - own - r["cpu_s"] - r["helpers_cpu_s"]), 2)
        r["peak_rss_mib"] = round(sampler.peak_rss_kib / 1024, 1)
        r["peak_pss_mib"] = round(sampler.peak_pss_kib / 1024, 1)
        r["peak_processes"] = sampler.peak_processes
        if error:
            r["error"] = error
            return
        if first_at < t0:
            r["error"] = "a message reached the sink before the release"
            return
        r["delivered_s"] = round(target_at - t0, 3)
        r["delivered_per_s"] = round(self.messages / max(target_at - t0, 1e-3), 1)
        r["first_s"] = round(first_at - t0, 3)
        if self.messages > 1 and target_at > first_at:
            r["first_to_last_per_s"] = round((self.messages - 1) / (target_at - first_at), 1)

    def check(self, client_address, recipients):
        # Extra messages (duplicates) would show up within a moment.
        time.sleep(1.0)
        self.result["sink_count"] = self.env.sink.snapshot()[0]
        self.server.stop()
        self.env.sink.stop()
        problems = self.env.sink.check_dump(client_address, recipients)
        if problems and "error" not in self.result:
            self.result["error"] = "; ".join(problems)


class PostfixRun(Run):
    def server_cpu(self):
        pids = self.server.pids()
        return measure.cpu_seconds(pids, pids[0] if pids else None)

    def server_alive(self):
        return bool(self.server.master_pid) and pid_alive(self.server.master_pid)

    def go(self, smtp_source, aliases, counts, log_path):
        postfix, sink = self.server, self.env.sink
        postfix.stop()
        postfix.reset()
        postfix.defer_smtp = True
        postfix.write_config()
        sink.start(self.messages)
        postfix.start()
        queue_s, problems = inject(smtp_source, postfix.address, aliases, counts, self.size,
                                   log_path)
        self.result["queue_s"] = round(queue_s, 3)
        if problems:
            self.result["error"] = problems[0]
            return self.result
        # Wait until qmgr has deferred every message.
        deadline = time.monotonic() + self.settings["stall_timeout"]
        while True:
            counts_now = postfix.queue_counts()
            if counts_now["deferred"] >= self.messages and not (
                    counts_now["incoming"] or counts_now["active"] or counts_now["maildrop"]):
                break
            if time.monotonic() > deadline:
                self.result["error"] = f"the queue did not settle: {counts_now}"
                postfix.stop()
                return self.result
            time.sleep(0.1)
        self.result["queued"] = counts_now["deferred"]
        postfix.stop()
        postfix.defer_smtp = False
        postfix.write_config()
        time.sleep(RESTART_PAUSE)
        self.result["cpu_busy_before"] = self.settings["wait_until_quiet"]()
        postfix.start()
        if sink.snapshot()[0]:
            self.result["error"] = (f"{sink.snapshot()[0]} messages reached the sink before "
                                    "the release")
            return self.result

        def release(sampler):
            sampler.start()
            t0 = time.time()
            status, output = postfix.flush()
            self.result["flush_s"] = round(time.time() - t0, 3)
            if status != 0:
                warn(f"postqueue -f: {output}")
            return t0

        self.measure_delivery(release)
        return self.result


class TernRun(Run):
    def server_cpu(self):
        pids = self.server.pids()
        return measure.cpu_seconds(pids, pids[0] if pids else None)

    def server_alive(self):
        return self.server.process is not None and self.server.process.poll() is None

    def go(self, smtp_source, aliases, counts, log_path):
        tern, sink = self.server, self.env.sink
        tern.stop()
        tern.reset()
        tern.configure(self.env.refuser.nameserver())
        sink.start(self.messages)
        tern.spawn()
        tern.wait_ready()
        queue_s, problems = inject(smtp_source, tern.address, aliases, counts, self.size,
                                   log_path)
        self.result["queue_s"] = round(queue_s, 3)
        if problems:
            self.result["error"] = problems[0]
            tern.stop()
            return self.result
        # Wait until an attempt has deferred every entry (each has a state
        # file), as for Postfix; entries not yet tried would be due at
        # the restart anyway.
        deadline = time.monotonic() + 60
        while True:
            spool = tern.spool_counts()
            if spool["env"] >= self.messages and spool["state"] >= self.messages:
                break
            if time.monotonic() > deadline:
                warn(f"tern: after 60 s not every queued message has been tried: {spool}")
                break
            time.sleep(0.1)
        self.result["queued"] = spool["env"]
        self.result["deferred_before_release"] = spool["state"]
        tern.stop()
        if sink.snapshot()[0]:
            self.result["error"] = (f"{sink.snapshot()[0]} messages reached the sink while "
                                    "the queue was filled")
            return self.result
        tern.configure(self.env.real.nameserver())
        time.sleep(RESTART_PAUSE)
        self.result["cpu_busy_before"] = self.settings["wait_until_quiet"]()
        ready = {}

        def release(sampler):
            t0 = tern.spawn()
            sampler.start()

            process = tern.process

            def greet():
                # Only watches: a failure shows as no progress at the sink.
                if wait_for_banner(tern.address, tern.port, timeout=120,
                                   alive=lambda: process.poll() is None):
                    ready["s"] = time.time() - t0
            threading.Thread(target=greet, daemon=True).start()
            return t0

        self.measure_delivery(release)
        if "s" in ready:
            self.result["ready_s"] = round(ready["s"], 3)
        return self.result

    def check(self, client_address, recipients):
        super().check(client_address, recipients)
        # VmHWM, read by stop() just before SIGTERM: the peak between two
        # samples (it also covers the second after the last delivery).
        hwm = self.server.last_hwm_kib
        if hwm and "peak_rss_mib" in self.result:
            self.result["peak_rss_mib"] = round(
                max(self.result["peak_rss_mib"] * 1024, hwm) / 1024, 1)


def run_once(server, env, smtp_source, aliases, counts, size, settings, log_path):
    messages = sum(counts)
    run = (TernRun if server.name == "tern" else PostfixRun)(server, env, messages, size,
                                                              settings)
    try:
        result = run.go(smtp_source, aliases, counts, log_path)
    except ServerUnavailable:
        server.stop()
        env.sink.stop()
        raise
    expected = {aliases[alias]: count for alias, count in zip(aliases, counts) if count}
    run.check(server.address, expected)
    return result
