#!/usr/bin/python3
"""The RFC 7208 SPF test suite run black-box through a real `tern serve`.

../shared/conformance/spf/rfc7208-tests.yml holds 16 scenarios, 203 tests:
each names a client address (`host`), a HELO name, a MAIL FROM and the
acceptable results. scenarios_spf.py runs this file as a script under
`unshare --net --pid --fork --kill-child --mount-proc`: in a network
namespace of its own, so that the suite's client addresses (1.2.3.4,
cafe:babe::1, …) can be put on `lo` without touching the machine's network,
and as PID 1 of a PID namespace, so that when this process ends, however it
ends, the kernel ends every process it started (nsd forks children that
PR_SET_PDEATHSIG does not reach). In there:

- `lo` comes up with every client address of the suite (IPv4 /32, IPv6
  /128 `nodad`);
- per scenario, nsd on 127.0.0.1 serves its zonedata (converted as
  Tests/TernMailAuthTests/Support/SPFSuiteZones.swift does, see
  `suite_zones`) and a fresh Tern starts, so no DNS answer is cached from
  an earlier scenario: hostname mx.tern.test, local domain tern.test with
  one user, `[checks] spf = "reject"`, DKIM and DMARC off, `[dns]
  nameservers` = that nsd, no reverse lookups. Its mx listeners:
  127.0.0.1:25 for IPv4 clients, [::1]:25 for IPv6 clients, and [::]:26,
  dual-stack, for the suite's IPv4-mapped clients (`::FFFF:1.2.3.4`): an
  IPv4 connection to a dual-stack socket is how such an address reaches a
  server;
- per test, one TCP connection bound to the test's client address: EHLO
  <helo>, MAIL FROM:<mailfrom>, RCPT, DATA. The verdict comes from the
  reply to DATA (550 5.7.23 = fail, its text carrying the explanation;
  451 4.7.24 = temperror) or, for a message accepted, from its
  Received-SPF and Authentication-Results fields in the Maildir (the two
  must agree, and Received-SPF must name the client address checked).

How the suite's data is written on the wire: an empty mailfrom is
`MAIL FROM:<>` (SPF then checks postmaster@<helo>); a local part that is
not a dot-string is sent as a quoted string (RFC 5321 §4.1.2), so
`Macro Error@e8.example.com` goes as `"Macro Error"@e8.example.com` and
the suite's `@example.net` (no local part) as `""@example.net`. Anything
else goes as the suite writes it; what Tern's SMTP layer refuses before
SPF runs is reported with the reply, as a miss.

Writes a JSON list, one object per test, to --out; the scoring and the
report are scenarios_spf.py's. nsd and tern are stopped after each
scenario, on every exit path.
"""

import sys

sys.dont_write_bytecode = True

import argparse
import ipaddress
import json
import re
import signal
import subprocess
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dnsserver import NSD  # noqa: E402
from harness import QUEUED, Delivered, RawSMTP, Server, add_users  # noqa: E402

RECEIVER = "mx.tern.test"       # the receiver name the suite's explanations and Received-SPF use
DOMAIN = "tern.test"
RECIPIENT = f"spf@{DOMAIN}"
IPV4_PORT, IPV6_PORT, MAPPED_PORT = 25, 25, 26
DELIVERY_TIMEOUT = 20

# MARK: The suite


def load_suite(path):
    """[(scenario description, zonedata, [test])], a test being a dict with
    name, spec, helo, host, mailfrom, expected (a list) and explanation."""
    import yaml  # Debian python3-yaml (scripts/install-test-deps); only this side needs it
    with open(path, "rb") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    scenarios = []
    for doc in docs:
        tests = []
        for name, t in sorted((doc.get("tests") or {}).items()):
            result = t.get("result")
            tests.append({"name": name, "spec": str(t.get("spec", "?")), "helo": str(t.get("helo", "")),
                          "host": str(t.get("host", "")), "mailfrom": str(t.get("mailfrom", "")),
                          "expected": [str(r) for r in result] if isinstance(result, list) else [str(result)],
                          "explanation": None if t.get("explanation") is None else str(t["explanation"])})
        scenarios.append((str(doc.get("description", "?")), doc.get("zonedata") or {}, tests))
    return scenarios


def normalized(name):
    n = str(name).lower()
    if n.endswith("."):
        n = n[:-1]
    return n or "."


def domain_name(name):
    """An absolute name for a zone file, octets outside letters, digits, "-"
    and "_" as \\DDD."""
    n = normalized(name)
    if n == ".":
        return "."
    ok = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    return ".".join("".join(chr(c) if c in ok else f"\\{c:03d}" for c in label.encode())
                    for label in n.split(".")) + "."


def character_strings(strings):
    """Quoted character-strings of at most 255 octets each (RFC 1035 §3.3.14)."""
    out = []
    for s in strings:
        data = s.encode()
        for start in range(0, max(len(data), 1), 255):
            chunk = data[start:start + 255]
            out.append('"' + "".join(f"\\{c:03d}" if c < 0x20 or c > 0x7E or c in (0x22, 0x5C) else chr(c)
                                     for c in chunk) + '"')
    return " ".join(out)


def suite_zones(zonedata):
    """Zone files for one scenario's zonedata, served the way the suite's
    drivers serve it (the same conversion as SPFSuiteZones.swift):
    everything lives under the root zone, so names the data does not
    mention are NXDOMAIN; SPF (type 99) records are served as TXT unless
    the name has TXT of its own (`TXT: NONE` = no TXT at all); a `TIMEOUT`
    name without other data becomes a zone of its own whose file does not
    load, so nsd answers SERVFAIL for it (nsd cannot be made silent for one
    name, and to SPF a SERVFAIL and a timeout are the same temporary error),
    and names with data under it get zones of their own so they still
    answer. Returns ({origin: zone text}, unanswered origins)."""
    names = {}
    for raw_name, value in zonedata.items():
        entry = names.setdefault(normalized(raw_name), {"txt": [], "spf": [], "no_txt": False, "timeout": False,
                                                        "other": []})
        for item in value or []:
            if item == "TIMEOUT":
                entry["timeout"] = True
                continue
            if not isinstance(item, dict):
                continue
            for rtype, rdata in item.items():
                if rtype in ("TXT", "SPF"):
                    strings = [str(x) for x in rdata] if isinstance(rdata, list) else [str(rdata)]
                    if rtype == "TXT" and strings == ["NONE"]:
                        entry["no_txt"] = True
                    elif strings:
                        entry["txt" if rtype == "TXT" else "spf"].append(strings)
                elif rtype in ("A", "AAAA"):
                    entry["other"].append(f"{rtype} {rdata}")
                elif rtype in ("PTR", "CNAME"):
                    entry["other"].append(f"{rtype} {domain_name(rdata)}")
                elif rtype == "MX" and isinstance(rdata, list) and len(rdata) == 2:
                    entry["other"].append(f"MX {rdata[0]} {domain_name(rdata[1])}")

    def records(entry):
        texts = entry["txt"] or ([] if entry["no_txt"] else entry["spf"])
        return [f"TXT {character_strings(t)}" for t in texts] + entry["other"]

    unanswered = {n for n, e in names.items() if e["timeout"] and not records(e)}
    origins = {"."} | unanswered
    for name, entry in names.items():
        if records(entry) and any(name.endswith("." + u) for u in unanswered):
            origins.add(name)
    zones = {}
    for origin in origins:
        zones[origin] = (f"; {origin} is left unanswerable: this file has no SOA, so nsd answers SERVFAIL\n"
                         if origin in unanswered else
                         f"$TTL 300\n{domain_name(origin)} IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n"
                         f"{domain_name(origin)} IN NS ns.test.\n")
    for name in sorted(names):
        lines = records(names[name])
        if not lines:
            continue
        zone = max((o for o in origins if o == "." or name == o or name.endswith("." + o)), key=len)
        if zone in unanswered:
            continue
        zones[zone] += "".join(f"{domain_name(name)} 300 IN {line}\n" for line in lines)
    return zones, unanswered


# MARK: Clients


def client_address(host):
    """(the address as the suite means it, after unmapping, the address the
    client binds, mapped?): ::FFFF:1.2.3.4 is (1.2.3.4, 1.2.3.4, True)."""
    ip = ipaddress.ip_address(host)
    if ip.version == 6 and ip.ipv4_mapped:
        return ip.ipv4_mapped, ip.ipv4_mapped, True
    return ip, ip, False


def setup_addresses(hosts):
    """lo up, and every client address on it."""
    commands = [["ip", "link", "set", "lo", "up"]]
    for ip in sorted({client_address(h)[1] for h in hosts}, key=lambda a: (a.version, int(a))):
        if ip.version == 4:
            commands.append(["ip", "addr", "add", f"{ip}/32", "dev", "lo"])
        else:
            commands.append(["ip", "-6", "addr", "add", f"{ip}/128", "dev", "lo", "nodad"])
    for command in commands:
        r = subprocess.run(command, capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {r.stderr.strip()}")


DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def reverse_path(mailfrom):
    """The suite's mailfrom as an SMTP reverse-path (RFC 5321 §4.1.2)."""
    if mailfrom == "":
        return "<>"
    local, at, domain = mailfrom.rpartition("@")
    if not at:
        return f"<{mailfrom}>"
    if not DOT_ATOM.match(local):
        local = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"<{local}@{domain}>"


def message(test, scenario, mark):
    return (f"From: SPF suite <spf-suite@{DOMAIN}>\r\nTo: <{RECIPIENT}>\r\nSubject: {mark}\r\n"
            f"Message-ID: <{mark}@{DOMAIN}>\r\n\r\n"
            f"RFC 7208 test suite, {scenario}: {test['name']} (§{test['spec']}).\r\n.\r\n").encode()


def session(test, scenario, mark):
    """One SMTP transaction for `test`: {"stage", "reply"} and, when DATA was
    answered, the verdict it shows or the queue id to look for."""
    _, source, mapped = client_address(test["host"])
    if mapped:
        destination, port = "127.0.0.1", MAPPED_PORT
    elif source.version == 4:
        destination, port = "127.0.0.1", IPV4_PORT
    else:
        destination, port = "::1", IPV6_PORT
    out = {"stage": "connect", "reply": None}
    try:
        smtp = RawSMTP(destination, port, timeout=20, source=str(source))
    except OSError as e:
        out["reply"] = f"connect from {source} to {destination}:{port}: {e}"
        return out
    try:
        code, text = smtp.reply()
        steps = [("EHLO", f"EHLO {test['helo']}", 250),
                 ("MAIL FROM", f"MAIL FROM:{reverse_path(test['mailfrom'])}", 250),
                 ("RCPT TO", f"RCPT TO:<{RECIPIENT}>", 250), ("DATA", "DATA", 354)]
        if code != 220:
            out["reply"] = f"{code} {' / '.join(text)}"
            return out
        for stage, line, want in steps:
            out["stage"] = f"{stage} ({line})"
            code, text = smtp.command(line)
            if code != want:
                out["reply"] = f"{code} {' / '.join(text)}"
                return out
        out["stage"] = "end of DATA"
        smtp.send(message(test, scenario, mark))
        code, text = smtp.reply()
        reply = " ".join(text)
        out["reply"] = f"{code} {reply}"
        queued = QUEUED.search(f"{code} {reply}")
        if code == 250 and queued:
            out["queue_id"] = queued.group(1)
        elif code == 550 and reply.startswith("5.7.23 "):
            out["verdict"] = "fail"
            # "SPF check failed for <domain>: <explanation, or 'not permitted'>"
            _, _, explanation = reply.partition(": ")
            out["got_explanation"] = None if explanation == "not permitted" else explanation
        elif code == 451 and reply.startswith("4.7.24 "):
            out["verdict"] = "temperror"
        try:
            smtp.command("QUIT")
        except OSError:
            pass
    except OSError as e:
        out["reply"] = f"{type(e).__name__}: {e}"
    finally:
        smtp.close()
    return out


def read_verdict(delivered, test):
    """The verdict in a delivered message, or (None, why)."""
    received_spf = delivered.header("Received-SPF")
    results = delivered.header("Authentication-Results")
    if not received_spf or not results:
        return None, f"delivered without Received-SPF or Authentication-Results ({delivered.path.name})"
    verdict = received_spf.split()[0].lower()
    ar = re.search(r"(?:^|;)\s*spf=(\w+)", results)
    if not results.lower().startswith(RECEIVER + ";") or not ar:
        return None, f"Authentication-Results without spf= from {RECEIVER}: {results!r}"
    if ar.group(1).lower() != verdict:
        return None, f"Received-SPF says {verdict} but Authentication-Results says spf={ar.group(1)}"
    client = re.search(r"client-ip=\"?([0-9A-Fa-f:.]+)", received_spf)
    checked, _, _ = client_address(test["host"])
    if not client or ipaddress.ip_address(client.group(1)) != checked:
        return None, f"Received-SPF names client-ip={client and client.group(1)}, the client was {checked}"
    return verdict, None


# MARK: Running it


def run_scenario(index, description, zonedata, tests, root, users, aliases, log):
    """Every test of one scenario against its own nsd and Tern: [result]."""
    base = root / f"scenario-{index:02d}"
    zones, unanswered = suite_zones(zonedata)
    dns = NSD(base / "dns", zones, unanswered=unanswered, verbosity=1)
    server = None
    results = []
    try:
        dns.start()
        server = Server(base / "tern", "127.0.0.1", "", "", users, aliases, name=f"tern ({description})",
                        hostname=RECEIVER, domains=[DOMAIN],
                        listeners=[("127.0.0.1", IPV4_PORT, "mx"), ("::1", IPV6_PORT, "mx"), ("::", MAPPED_PORT, "mx")],
                        settings={"dns": {"nameservers": [dns.nameserver], "reverse_lookup": False},
                                  "checks": {"spf": "reject", "dkim": "off", "dmarc": "off"}})
        server.start()
        for test in tests:
            mark = f"spf-suite-{index:02d}-{test['name']}"
            outcome = session(test, description, mark)
            results.append(dict(test, scenario=description, mark=mark, **outcome))
        queued = {r["queue_id"] for r in results if r.get("queue_id")}
        try:
            server.wait_unspooled(queued, DELIVERY_TIMEOUT)
        except Exception as e:  # noqa: BLE001 - reported per test below
            log(f"{description}: {e}")
        delivered = {}
        for path, mailbox in server.delivered_files().items():
            d = Delivered(path, mailbox, path.read_bytes())
            delivered.setdefault(d.header("Subject"), []).append(d)
        for r in results:
            if not r.get("queue_id"):
                continue
            copies = delivered.get(r["mark"], [])
            if len(copies) != 1:
                r["why"] = f"accepted as {r['queue_id']}, {len(copies)} copies delivered"
                continue
            r["verdict"], r["why"] = read_verdict(copies[0], r)
        if not server.running():
            raise RuntimeError(f"tern exited during the scenario:\n{server.log_tail()}")
    except Exception as e:  # noqa: BLE001 - the scenario's tests are reported as not run
        log(f"{description}: {type(e).__name__}: {e}")
        done = {r["name"] for r in results}
        for r in results:
            r.setdefault("why", f"scenario failed: {e}")
        results += [dict(t, scenario=description, stage="setup", reply=None, why=f"scenario failed: {e}")
                    for t in tests if t["name"] not in done]
    finally:
        if server is not None:
            server.stop()
        dns.stop()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", required=True, help="rfc7208-tests.yml")
    parser.add_argument("--root", required=True, help="a folder of its own for configs, zones, logs and Maildirs")
    parser.add_argument("--out", required=True, help="the JSON results file to write")
    args = parser.parse_args()
    # As PID 1 of its namespace it would ignore SIGTERM without a handler.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)

    def log(line):
        print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)

    scenarios = load_suite(args.suite)
    setup_addresses([t["host"] for _, _, tests in scenarios for t in tests])
    users, aliases = root / "users", root / "aliases"
    add_users(users, {RECIPIENT: "spf-suite-unused-password"})
    aliases.write_text(f"postmaster: {RECIPIENT}\n")
    results = []
    for index, (description, zonedata, tests) in enumerate(scenarios, 1):
        started = time.monotonic()
        results += run_scenario(index, description, zonedata, tests, root, users, aliases, log)
        log(f"{description}: {len(tests)} tests in {time.monotonic() - started:.1f} s")
    Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
