"""SPF conformance black-box: the RFC 7208 test suite through Tern's port 25.

The work happens in spfsuite.py, run under `unshare` (root only): a network
namespace of its own holds the suite's client addresses, one nsd and one
Tern per scenario of the suite. It is PID 1 of a PID namespace of its own
too, so when it ends, however it ends (its own error, the timeout here, the
runner killed), the kernel ends every process it started: nsd's forked
children and tern included. This file starts it, scores what it saw and
prints every miss with its RFC 7208 section.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

from harness import E2E_DIR, REPO, TERN, Fail, _die_with_parent
from registry import scenario

# The score reached (of 203). The two misses are Tern's SMTP layer refusing a
# MAIL FROM that is not a valid RFC 5321 path (a 64-octet label, empty
# labels) before SPF runs; they are listed on every run.
MINIMUM_SCORE = 201
TOTAL = 203
TIMEOUT = 120       # the run takes about 10 s; this only stops a hung one

# Explanations that differ from the suite's in letter case only: not a miss.
CASE_NOTES = {
    "v-macro-ip6": "letter case only: the suite writes the %{ir} nibbles of CAFE:BABE::1 in upper case, "
                   "Tern in lower case as RFC 7208 §7.4's example does",
}

# Tests whose MAIL FROM is not a valid RFC 5321 reverse-path: Tern refuses it
# before any SPF check, as it should. Counted as misses, with this reason.
SMTP_REFUSALS = {
    "toolonglabel": "a 64-octet label is not a domain (RFC 1035 §2.3.4), so Tern refuses the MAIL FROM "
                    "before SPF runs",
    "emptylabel": "'A...example.com' is not RFC 5321 Domain syntax, so Tern refuses the MAIL FROM before SPF runs",
}


def conformance_dir():
    """$TERN_CONFORMANCE_DIR, or shared/conformance next to the repository or
    further up (as the Swift tests find it), or /work/shared/conformance."""
    if os.environ.get("TERN_CONFORMANCE_DIR"):
        return Path(os.environ["TERN_CONFORMANCE_DIR"])
    for parent in [REPO, *REPO.parents]:
        candidate = parent / "shared" / "conformance"
        if (candidate / "spf").is_dir():
            return candidate
    return Path("/work/shared/conformance")


def baseline_score(directory):
    """libspf2 1.2.10's bare score on the suite (libspf2-1.2.10-baseline.yaml)."""
    try:
        text = (directory / "spf" / "libspf2-1.2.10-baseline.yaml").read_text()
    except OSError:
        return None
    return text.count("agrees: true")


def describe_miss(r):
    expected = "|".join(r["expected"])
    got = r.get("verdict")
    line = f"{r['name']} (RFC 7208 §{r['spec']}, {r['scenario']}): expected {expected}, got {got or 'no verdict'}"
    if got:
        return line + (f" — {r['why']}" if r.get("why") else "")
    if r["name"] in SMTP_REFUSALS and r["stage"].startswith("MAIL FROM"):
        return line + f" — SMTP layer: {r['stage']} answered {r['reply']}: {SMTP_REFUSALS[r['name']]}"
    return line + f" — {r.get('why') or (r['stage'] + ' answered ' + str(r['reply']))}"


def explanation_difference(r):
    """For a fail the suite gives an explanation for: (how it differs from
    the text of Tern's 550 reply, whether only in letter case), or None.
    "DEFAULT" is the receiver's own text: Tern then says "not permitted"
    (no explanation published)."""
    want = r.get("explanation")
    if want is None or r.get("verdict") != "fail" or "fail" not in r["expected"]:
        return None
    want = None if want == "DEFAULT" else want
    got = r.get("got_explanation")
    if want == got:
        return None
    case_only = want is not None and got is not None and want.lower() == got.lower()
    text = (f"{r['name']} (RFC 7208 §{r['spec']}): explanation {want or 'DEFAULT'!r}, "
            f"reply says {got or 'not permitted'!r}")
    if case_only:
        text += f" ({CASE_NOTES.get(r['name'], 'letter case only')})"
    return text, case_only


@scenario("spf-rfc7208-suite")
def spf_suite(ctx):
    """The RFC 7208 SPF test suite (shared/conformance/spf/rfc7208-tests.yml, 203 tests) black-box through the real
    binary's port 25, in network and PID namespaces of its own (unshare; needs root and iproute2): every client
    address on lo, per scenario an nsd serving its zonedata and a fresh Tern (spf = "reject"); each test connects
    from its client address with its HELO and MAIL FROM and reads the verdict from the reply (550 5.7.23 with the
    explanation, 451 4.7.24) or the delivered Received-SPF and Authentication-Results. Score >= the recorded
    minimum; every miss printed with its RFC section."""
    if os.geteuid() != 0:
        raise Fail("needs root: it puts the suite's client addresses on lo inside a network namespace (unshare --net)")
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = [t for t in ("unshare", "ip", "nsd") if not shutil.which(t, path=path)]
    if missing:
        raise Fail(f"missing {', '.join(missing)}: run scripts/install-test-deps")
    directory = conformance_dir()
    suite = directory / "spf" / "rfc7208-tests.yml"
    if not suite.is_file():
        raise Fail(f"no SPF suite at {suite} (set TERN_CONFORMANCE_DIR)")
    root = ctx.tmp / "spf-suite"
    root.mkdir()
    out = root / "results.json"
    log_path = root / "suite.log"
    # --fork --pid --kill-child: spfsuite.py runs as PID 1 of a new PID
    # namespace and is killed when unshare dies (unshare dies with the
    # runner); --mount-proc gives it a /proc whose PIDs are its own.
    command = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc", "--",
               "/usr/bin/python3", "-B", str(E2E_DIR / "lib" / "spfsuite.py"),
               "--suite", str(suite), "--root", str(root), "--out", str(out)]
    with open(log_path, "wb") as log:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 env=dict(os.environ, TERN=str(TERN)), preexec_fn=_die_with_parent)
        try:
            child.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Fail(f"the suite did not finish within {TIMEOUT} s; its log:\n" + tail(log_path))
        finally:
            # On a timeout or the runner being stopped (SIGINT): unshare dies,
            # spfsuite.py with it, and with that every process of its PID
            # namespace, before the runner removes the temporary folder.
            if child.poll() is None:
                child.kill()
                child.wait()
    ctx.note_transcript(" ".join(command), log_path.read_text(errors="replace"))
    if child.returncode != 0 or not out.is_file():
        raise Fail(f"spfsuite.py exited {child.returncode}:\n" + tail(log_path))

    results = json.loads(out.read_text())
    passed = [r for r in results if r.get("verdict") in r["expected"]]
    misses = [r for r in results if r.get("verdict") not in r["expected"]]
    explanations = [d for d in map(explanation_difference, passed) if d]
    wrong = [text for text, case_only in explanations if not case_only]
    baseline = baseline_score(directory)
    ctx.say(f"      RFC 7208 suite through port 25: {len(passed)}/{len(results)} "
            f"(minimum {MINIMUM_SCORE}; libspf2 alone {baseline}/{TOTAL}); misses ({len(misses)}):")
    for r in misses:
        ctx.say(f"        - {describe_miss(r)}")
    if explanations:
        ctx.say(f"      fail replies whose explanation differs from the suite's ({len(explanations)}):")
        for text, _ in explanations:
            ctx.say(f"        - {text}")
    if len(results) != TOTAL:
        raise Fail(f"{len(results)} results, the suite has {TOTAL} tests")
    if len(passed) < MINIMUM_SCORE:
        raise Fail(f"score {len(passed)}/{TOTAL} is below the recorded minimum {MINIMUM_SCORE}")
    if wrong:
        raise Fail(f"{len(wrong)} fail replies carry another explanation than the suite's (see above)")
    return f"{len(passed)}/{TOTAL} (minimum {MINIMUM_SCORE}), {len(misses)} misses listed above"


def tail(path, lines=30):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
