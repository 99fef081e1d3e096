"""`tern config check` and `tern check`: the commands an administrator runs,
as they run them, with their output and exit status read back.

`tern check` is run on the configuration of a Tern of its own (on
<subnet>.90, mx.check.test), with an nsd serving check.test as it should be
published — the DKIM record is the one `tern dkim keygen` printed — and a
domain with records missing. The in-process tests (Tests/Integration/
DeploymentCheckTests.swift) go through every check one by one, including
a blocked port 25; these scenarios prove the binary: arguments, text and
JSON output, exit statuses 0, 1, 64 and 78.
"""

import json
import re
import subprocess
import tomllib

from dnsserver import NSD, zone_text
from harness import TERN, Server, check
from registry import scenario

RELAY_SECRET = "relay-Secret-never-printed-7"


def tern(*args, timeout=60):
    return subprocess.run([str(TERN), *map(str, args)], capture_output=True, text=True, timeout=timeout)


@scenario("config-check")
def config_check(ctx):
    """`tern config check FILE` on a valid file prints the effective configuration as TOML (defaults included,
    paths absolute) that reads back unchanged, names the relay password file without reading it; a broken file
    gives every error as file:line: message on standard error and exit 78, as `tern serve` does."""
    root = ctx.tmp / "config-check"
    root.mkdir()
    secret = root / "relay-password"
    secret.write_text(RELAY_SECRET + "\n")
    good = root / "good.toml"
    good.write_text(f"""hostname = "mx.config.test"
domains = ["config.test"]
state_dir = "state"
[[listener]]
address = "127.0.0.1:2525"
[delivery]
relay = "smtp.relay.test:587"
relay_username = "alice@config.test"
relay_password_file = "relay-password"
[check]
probe_domains = ["probe.test"]
probe_timeout = "3s"
""")
    r = tern("config", "check", good)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
    check(RELAY_SECRET not in r.stdout + r.stderr, "the relay password was printed")
    effective = tomllib.loads(r.stdout)
    check(effective["delivery"]["relay_password_file"] == str(secret), f"password file: {effective['delivery']}")
    check(effective["state_dir"] == str(root / "state"), f"state_dir not absolute: {effective['state_dir']}")
    check(effective["limits"]["recipients"] == 100, "defaults are not shown")
    check(effective["check"] == {"probe_domains": ["probe.test"], "probe_timeout": "3s"}, f"[check]: {effective['check']}")
    check("'accounts.users'" in r.stderr and "no such file" in r.stderr, f"missing users file not noted: {r.stderr!r}")
    # The output is itself a valid configuration that gives the same output.
    again = root / "again.toml"
    again.write_text(r.stdout)
    r2 = tern("config", "check", again)
    check(r2.returncode == 0 and r2.stdout.splitlines()[1:] == r.stdout.splitlines()[1:],
          f"the printed configuration does not read back the same: {r2.stderr}")

    broken = root / "broken.toml"
    broken.write_text("""hostname = "mx.config.test"
domains = ["config.test"]
[[listener]]
address = "127.0.0.1:2525"
[limits]
recipients = "many"
[check]
probe_timeout = "soon"
""")
    r = tern("config", "check", broken)
    check(r.returncode == 78, f"exit {r.returncode}, expected 78")
    check(r.stdout == "", f"printed a configuration for a broken file: {r.stdout!r}")
    for line in (f"{broken}:6: 'limits.recipients' must be an integer, got string",
                 f"{broken}:8: 'check.probe_timeout' is not a duration"):
        check(line in r.stderr, f"missing {line!r} in {r.stderr!r}")
    r = tern("serve", "--config", broken, timeout=30)
    check(r.returncode == 78, f"tern serve exited {r.returncode} on the same file")
    r = tern("config", "check", root / "absent.toml")
    check(r.returncode == 78 and "cannot read the configuration file" in r.stderr, f"absent file: {r.returncode} {r.stderr!r}")
    return "valid, read back, broken (78)"


CHECK_DOMAIN = "check.test"
CHECK_HOST = "mx.check.test"
CHECK_HOST_NUMBER = 90   # <subnet>.90: the Tern under check


def long_lived_certificate(directory, hostname, address):
    """A self-signed P-256 certificate valid for 90 days (the run's own lives
    2 days, which `tern check` rightly calls near expiry)."""
    cert, key = directory / "check-cert.pem", directory / "check-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "90", "-subj", f"/CN={hostname}",
                    "-addext", f"subjectAltName=DNS:{hostname},IP:{address}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def check_world(ctx, root):
    """nsd with check.test published right for a Tern of its own (MX, A,
    PTR, SPF, DMARC, the DKIM record `tern dkim keygen` printed), broken.test
    with records missing, and a probe domain whose MX is that Tern; then the
    Tern, its [dns] on that nsd. Returns (nsd, server)."""
    ip = f"{ctx.subnet}.{CHECK_HOST_NUMBER}"
    keys = root / "dkim"
    r = tern("dkim", "keygen", CHECK_DOMAIN, "--keys", keys, "--selector", "s1", "--algorithm", "ed25519")
    check(r.returncode == 0, f"tern dkim keygen: {r.stderr}")
    dkim_line = next(line for line in r.stdout.splitlines() if "._domainkey." in line)
    reverse = ".".join(reversed(ctx.subnet.split("."))) + ".in-addr.arpa"
    zones = {
        CHECK_DOMAIN: zone_text(CHECK_DOMAIN, [
            ("@", "MX", 10, f"{CHECK_HOST}."), ("mx", "A", ip), ("mx", "TXT", "v=spf1 a -all"),
            ("@", "TXT", f"v=spf1 a:{CHECK_HOST} -all"),
            ("_dmarc", "TXT", f"v=DMARC1; p=quarantine; rua=mailto:postmaster@{CHECK_DOMAIN}")]) + dkim_line + "\n",
        "broken.test": zone_text("broken.test", [("@", "MX", 10, "mx.elsewhere.test."), ("@", "TXT", "hello")]),
        "probe.test": zone_text("probe.test", [("@", "MX", 10, "mx.probe.test."), ("mx", "A", ip)]),
        reverse: zone_text(reverse, [(str(CHECK_HOST_NUMBER), "PTR", f"{CHECK_HOST}.")]),
    }
    dns = NSD(root / "dns", zones)
    dns.start()
    cert, key = long_lived_certificate(root, CHECK_HOST, ip)
    server = Server(root / "tern", ip, cert, key, ctx.users_file, ctx.aliases_file, name="tern-check",
                    hostname=CHECK_HOST, domains=(CHECK_DOMAIN,),
                    settings={"dns": {"nameservers": [dns.nameserver]}, "dkim": {"keys": str(keys)},
                              "check": {"probe_domains": ["probe.test"], "probe_timeout": "5s"}})
    ctx.servers.append(server)
    try:
        server.start()
    except Exception:
        dns.stop()
        raise
    return dns, server


@scenario("check-deployment")
def check_deployment(ctx):
    """`tern check` on a running Tern's own configuration, its domain published right (the DKIM record from
    `tern dkim keygen`, PTR, SPF, DMARC): exit 0, every listener answers over TLS with the configured
    certificate, outbound port 25 reaches the probe MX; `tern check broken.test --json`: exit 1, MX, SPF and
    DMARC errors each with the record to publish; a bad --address is a usage error (64); --help documents the
    exit statuses."""
    root = ctx.tmp / "check"
    root.mkdir()
    dns, server = check_world(ctx, root)
    ip = server.address
    try:
        r = tern("check", "--config", server.config, timeout=120)
        check(r.returncode == 0, f"exit {r.returncode} for a deployment without errors:\n{r.stdout}{r.stderr}")
        check(re.search(r"^0 errors, \d+ warnings?, \d+ ok", r.stdout, re.M), f"no summary:\n{r.stdout}")
        for needle in (f"{ip} ↔ {CHECK_HOST} (forward-confirmed)", f"MX 10 {CHECK_HOST}",
                       f"s1._domainkey.{CHECK_DOMAIN}: matches", "p=quarantine", "outbound port 25 is open",
                       f"mx listener {ip}:25: answers over TLS with the certificate in [tls]",
                       f"submission listener {ip}:587: answers over TLS with the certificate in [tls]",
                       f"submissions listener {ip}:465: answers over TLS with the certificate in [tls]"):
            check(needle in r.stdout, f"{needle!r} not in:\n{r.stdout}")
        check("WARNING tls" in r.stdout and "self-signed" in r.stdout, "the self-signed certificate is not warned about")

        r = tern("check", "broken.test", "--config", server.config, "--offline", "--json", timeout=120)
        check(r.returncode == 1, f"exit {r.returncode} for a broken domain")
        report = json.loads(r.stdout)
        check(report["passed"] is False and report["errors"] >= 3, f"summary: {report['errors']} errors")
        errors = {f["area"]: f for f in report["findings"] if f["severity"] == "error" and f["scope"] == "domain broken.test"}
        expected = {
            "mx": f"broken.test. IN MX 10 {CHECK_HOST}.",
            "spf": f'broken.test. IN TXT "v=spf1 a:{CHECK_HOST} -all"',
            "dmarc": '_dmarc.broken.test. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@broken.test"',
        }
        for area, record in expected.items():
            check(area in errors, f"no {area} error: {sorted(errors)}")
            check(errors[area].get("record") == record, f"{area} record: {errors[area].get('record')!r}")
        outbound = [f for f in report["findings"] if f["area"] == "outbound"]
        check([f["message"] for f in outbound] == ["not tested (--offline)"], f"--offline: {outbound}")

        r = tern("check", "--config", server.config, "--address", "not-an-ip")
        check(r.returncode == 64, f"bad --address exited {r.returncode}")
        r = tern("check", "--help")
        check(r.returncode == 0 and "EXIT STATUS" in r.stdout and "--offline" in r.stdout, "help text incomplete")
    finally:
        server.stop()
        dns.stop()
    return "a right deployment passes; broken.test reported with the records to publish"
