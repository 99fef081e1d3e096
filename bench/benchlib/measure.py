"""One measured run: start the server, drive smtp-source at it, watch the
Maildir fill, sample memory, stop the server.

- accepted msg/s: messages / wall time of smtp-source, which waits for the
  reply to each DATA before sending the next message on that session.
- delivered msg/s: messages / (time of the last arrival in new/ - start).
  The arrival time is the file's ctime, which the rename (or link) into
  new/ sets; the directory is polled only to learn when all have arrived.
- peak RSS: the largest sum of VmRSS over the server's processes, sampled
  every BENCH_SAMPLE_MS (100 ms); for a single process also its VmHWM.
  Peak PSS (proportional share: shared library pages split between the
  processes that map them) is sampled less often because it costs more.
- server CPU: user + system time of the server's processes, including
  children that already exited (their time is in the parent's cutime)."""

import os
import resource
import subprocess
import threading
import time

from .util import popen_pids, read_pss_kib, read_rss_kib, tail

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class MemorySampler(threading.Thread):
    def __init__(self, pids, interval, pss_every=5):
        super().__init__(daemon=True)
        self.pids = pids
        self.interval = interval
        self.pss_every = pss_every
        self.peak_rss_kib = 0
        self.peak_pss_kib = 0
        self.peak_processes = 0
        self.samples = 0
        self.stopping = threading.Event()

    def sample(self, with_pss=False):
        pids = self.pids()
        rss = 0
        for pid in pids:
            rss += read_rss_kib(pid) or 0
        self.peak_rss_kib = max(self.peak_rss_kib, rss)
        self.peak_processes = max(self.peak_processes, len(pids))
        if with_pss or self.samples % self.pss_every == 0:
            pss = sum(read_pss_kib(pid) or 0 for pid in pids)
            self.peak_pss_kib = max(self.peak_pss_kib, pss)
        self.samples += 1

    def run(self):
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join()
        self.sample(with_pss=True)


def cpu_seconds(pids, root_pid):
    """utime + stime of pids, plus cutime + cstime of root_pid (the reaped
    children of the server's top process)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is state (field 3 of stat); utime..cstime are 14..17.
        ticks += int(fields[11]) + int(fields[12])
        if pid == root_pid:
            ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def machine_busy_seconds():
    """CPU seconds all CPUs spent neither idle nor waiting for I/O."""
    try:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


def own_cpu_seconds():
    """CPU seconds of this harness and of its reaped children (smtp-source)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def count_entries(directory):
    with os.scandir(directory) as entries:
        return sum(1 for _ in entries)


def last_arrival(directory):
    latest = 0.0
    with os.scandir(directory) as entries:
        for entry in entries:
            try:
                latest = max(latest, entry.stat(follow_symlinks=False).st_ctime)
            except OSError:
                continue
    return latest


def watch_maildir(new_dir, messages, finished, settings):
    """Return once all messages are in new/ and smtp-source has exited, when
    smtp-source failed, or (returning True) when nothing arrived for
    stall_timeout."""
    delivered, progress_at = 0, time.monotonic()
    while True:
        time.sleep(settings["poll_interval"])
        count = count_entries(new_dir)
        if count != delivered:
            delivered, progress_at = count, time.monotonic()
        if "status" in finished and (count >= messages or finished["status"] != 0):
            return False
        if time.monotonic() - progress_at > settings["stall_timeout"]:
            return True


def smtp_source_argv(smtp_source, address, port, size, sessions, messages, reconnect):
    argv = [smtp_source]
    if not reconnect:
        argv.append("-d")           # keep each session open for its next message
    argv += ["-s", str(sessions), "-m", str(messages), "-l", str(size),
             "-M", "sender.test", "-f", "bench@sender.test", "-t", "bench@bench.test",
             f"{address}:{port}"]
    return argv


def run_once(server, smtp_source, size, sessions, messages, settings, log_path):
    """One measurement of server. Returns a dict; "error" is set when the
    run did not complete (then the figures are not to be used)."""
    server.reset()
    new_dir = os.path.join(server.maildir, "new")
    server.start()
    result = {"server": server.name, "size": size, "sessions": sessions, "messages": messages}
    sampler = MemorySampler(server.pids, settings["sample_interval"])
    sampler.start()
    argv = smtp_source_argv(smtp_source, server.address, server.port, size, sessions,
                            messages, settings["reconnect"])
    finished = {}
    stalled = False
    try:
        with open(log_path, "wb") as log:
            machine_before, own_before = machine_busy_seconds(), own_cpu_seconds()
            start_wall = time.time()
            start = time.perf_counter()
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT)
            popen_pids.add(process.pid)

            def wait_for_source():
                finished["status"] = process.wait()
                finished["elapsed"] = time.perf_counter() - start

            waiter = threading.Thread(target=wait_for_source, daemon=True)
            waiter.start()
            try:
                stalled = watch_maildir(new_dir, messages, finished, settings)
            finally:
                if process.poll() is None:  # interrupted, or stalled
                    process.kill()
                waiter.join()
                popen_pids.discard(process.pid)
        pids = server.pids()
        result["cpu_s"] = round(cpu_seconds(pids, pids[0] if pids else None), 2)
        # CPU the rest of the machine used meanwhile: other work on a shared
        # host, plus kernel threads (journal, writeback) working for the server.
        machine = machine_busy_seconds() - machine_before
        own = own_cpu_seconds() - own_before
        result["machine_busy_s"] = round(machine, 2)
        result["harness_cpu_s"] = round(own, 2)
        result["other_cpu_s"] = round(max(0.0, machine - own - result["cpu_s"]), 2)
    finally:
        sampler.stop()
        server.stop()

    result["delivered_count"] = count_entries(new_dir)
    result["peak_rss_mib"] = round(sampler.peak_rss_kib / 1024, 1)
    result["peak_pss_mib"] = round(sampler.peak_pss_kib / 1024, 1)
    result["peak_processes"] = sampler.peak_processes
    hwm = getattr(server, "peak_hwm_kib", lambda: None)()
    if hwm and sampler.peak_processes <= 1:
        result["peak_rss_mib"] = round(max(sampler.peak_rss_kib, hwm) / 1024, 1)

    status = finished.get("status")
    if stalled and status != 0:
        result["error"] = (f"no progress for {settings['stall_timeout']} s: "
                           f"{result['delivered_count']} of {messages} delivered; smtp-source "
                           f"killed: {tail(log_path, 3)}")
        return result
    if status != 0:
        result["error"] = f"smtp-source exited with status {status}: {tail(log_path, 5)}"
        return result
    result["accepted_s"] = round(finished["elapsed"], 3)
    result["accepted_per_s"] = round(messages / finished["elapsed"], 1)
    if result["delivered_count"] < messages:
        result["error"] = (f"only {result['delivered_count']} of {messages} messages reached "
                           f"the Maildir (no progress for {settings['stall_timeout']} s)")
        return result
    if result["delivered_count"] > messages:
        result["error"] = f"{result['delivered_count']} messages in the Maildir, expected {messages}"
        return result
    delivered_s = max(last_arrival(new_dir) - start_wall, 1e-3)
    result["delivered_s"] = round(delivered_s, 3)
    result["delivered_per_s"] = round(messages / delivered_s, 1)
    return result
