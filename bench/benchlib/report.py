"""Medians over repetitions, the Tern/Postfix ratios, and the three
renderings: terminal table, results/latest.json, results/latest.md."""

import json
import os
import statistics

METRICS = ("accepted_per_s", "delivered_per_s", "peak_rss_mib", "peak_pss_mib", "cpu_s",
           "harness_cpu_s", "other_cpu_s", "accepted_s", "delivered_s")
TARGET_RATIO = 3.0
TARGET_SESSIONS = (20, 100)


def size_label(size):
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


def summarize(runs, servers, sizes, sessions_list):
    """One entry per (size, sessions): per server the medians of the
    successful runs, and the ratios Tern/Postfix."""
    rows = []
    for size in sizes:
        for sessions in sessions_list:
            entry = {"size": size, "sessions": sessions, "servers": {}, "ratios": {}}
            for server in servers:
                mine = [r for r in runs
                        if r["server"] == server and r["size"] == size and r["sessions"] == sessions]
                good = [r for r in mine if "error" not in r]
                summary = {"runs": len(mine), "ok": len(good),
                           "errors": [r["error"] for r in mine if "error" in r]}
                for metric in METRICS:
                    values = [r[metric] for r in good if r.get(metric) is not None]
                    summary[metric] = round(statistics.median(values), 1) if values else None
                    if metric.endswith("_per_s") and values:
                        summary[metric.replace("_per_s", "_range")] = [min(values), max(values)]
                entry["servers"][server] = summary
            tern, postfix = entry["servers"].get("tern"), entry["servers"].get("postfix")
            if tern and postfix:
                for metric in ("accepted_per_s", "delivered_per_s", "peak_rss_mib", "peak_pss_mib",
                               "cpu_s"):
                    if tern.get(metric) and postfix.get(metric):
                        entry["ratios"][metric] = round(tern[metric] / postfix[metric], 2)
            rows.append(entry)
    return rows


def target_verdict(rows):
    """Tern >= 3x Postfix (accepted and delivered) at 20 and 100 sessions."""
    checks = []
    for row in rows:
        if row["sessions"] not in TARGET_SESSIONS:
            continue
        for metric in ("accepted_per_s", "delivered_per_s"):
            ratio = row["ratios"].get(metric)
            checks.append(None if ratio is None else ratio >= TARGET_RATIO)
    if not checks or None in checks:
        return "not measured (Tern did not run in every configuration)"
    return "met" if all(checks) else "NOT met"


def fmt(value, suffix=""):
    if value is None:
        return "-"
    if isinstance(value, float) and value >= 100:
        return f"{value:.0f}{suffix}"
    return f"{value}{suffix}"


COLUMNS = ("sessions", "server", "accepted msg/s", "delivered msg/s", "peak RSS MiB",
           "peak PSS MiB", "CPU s", "other CPU s")


def table_rows(rows, size):
    out = []
    for row in rows:
        if row["size"] != size:
            continue
        for server, summary in row["servers"].items():
            note = ""
            if summary["ok"] < summary["runs"]:
                note = f" ({summary['runs'] - summary['ok']} of {summary['runs']} runs failed)"
            if summary["runs"] == 0:
                note = " (not run)"
            out.append([str(row["sessions"]), server + note,
                        fmt(summary["accepted_per_s"]), fmt(summary["delivered_per_s"]),
                        fmt(summary["peak_rss_mib"]), fmt(summary["peak_pss_mib"]),
                        fmt(summary["cpu_s"]), fmt(summary["other_cpu_s"])])
        if row["ratios"]:
            ratios = row["ratios"]
            out.append([str(row["sessions"]), "tern/postfix",
                        fmt(ratios.get("accepted_per_s"), "×"),
                        fmt(ratios.get("delivered_per_s"), "×"),
                        fmt(ratios.get("peak_rss_mib"), "×"), fmt(ratios.get("peak_pss_mib"), "×"),
                        fmt(ratios.get("cpu_s"), "×"), ""])
    return out


def render_text(rows, sizes, meta):
    lines = []
    for size in sizes:
        lines.append("")
        lines.append(f"{size_label(size)} messages, {meta['messages']} per run, "
                     f"median of {meta['repeat']}")
        body = table_rows(rows, size)
        widths = [max(len(COLUMNS[i]), *(len(r[i]) for r in body)) if body else len(COLUMNS[i])
                  for i in range(len(COLUMNS))]
        lines.append("  ".join(c.rjust(w) if i > 1 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(COLUMNS, widths))))
        for r in body:
            lines.append("  ".join(c.rjust(w) if i > 1 else c.ljust(w)
                                   for i, (c, w) in enumerate(zip(r, widths))))
    lines.append("")
    lines.append(f"Target (Tern ≥ {TARGET_RATIO:g}× Postfix at 20 and 100 sessions): "
                 f"{target_verdict(rows)}")
    return "\n".join(lines)


def render_markdown(rows, sizes, meta):
    lines = ["# Tern vs Postfix — `make bench`", "",
             f"Run {meta['started']} on {meta['host']['cpus']} CPUs, kernel "
             f"{meta['host']['kernel']}, spool and Maildirs on {meta['host']['tmp_fs']}. "
             f"{meta['messages']} messages per run, median of {meta['repeat']} runs; "
             f"smtp-source {'one connection per message' if meta['reconnect'] else 'keeps each session open (-d)'}.",
             ""]
    for name, info in meta["servers"].items():
        lines.append(f"- **{name}**: " + ", ".join(f"{k} `{v}`" for k, v in info.items()))
    for name, reason in meta["skipped"].items():
        lines.append(f"- **{name}** skipped: {reason.splitlines()[0] if reason else ''}")
    for size in sizes:
        lines += ["", f"## {size_label(size)} messages", "",
                  "| " + " | ".join(COLUMNS) + " |",
                  "|" + "|".join("---:" if i > 1 else "---" for i in range(len(COLUMNS))) + "|"]
        for r in table_rows(rows, size):
            lines.append("| " + " | ".join(r) + " |")
    lines += ["", "accepted = messages / wall time of smtp-source; delivered = messages / "
              "time to the last arrival in Maildir/new; peak RSS = largest sum of VmRSS over "
              "the server's processes (PSS: shared pages split between them); CPU s = the "
              "server's CPU time per run; other CPU s = CPU the rest of the machine used "
              "during the run (other work, kernel threads). Ratios: above 1 is better for "
              "msg/s, below 1 for memory and CPU."]
    lines += ["", f"Target (Tern ≥ {TARGET_RATIO:g}× Postfix accepted and delivered msg/s at "
                  f"20 and 100 sessions): **{target_verdict(rows)}**", ""]
    return "\n".join(lines)


def write_results(directory, rows, runs, sizes, meta):
    os.makedirs(directory, exist_ok=True)
    document = {"meta": meta, "summary": rows, "runs": runs, "target": target_verdict(rows)}
    json_path = os.path.join(directory, "latest.json")
    md_path = os.path.join(directory, "latest.md")
    with open(json_path, "w") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    with open(md_path, "w") as handle:
        handle.write(render_markdown(rows, sizes, meta))
    return json_path, md_path


# The outbound benchmark (bench/run --outbound)

OUTBOUND_METRICS = ("delivered_per_s", "delivered_s", "first_s", "first_to_last_per_s",
                    "ready_s", "flush_s", "queue_s", "peak_rss_mib", "peak_pss_mib",
                    "peak_processes", "cpu_s", "helpers_cpu_s", "other_cpu_s")
OUTBOUND_TARGET_RATIO = 2.0


def summarize_outbound(runs, servers):
    entry = {"servers": {}, "ratios": {}}
    for server in servers:
        mine = [r for r in runs if r["server"] == server]
        good = [r for r in mine if "error" not in r]
        summary = {"runs": len(mine), "ok": len(good),
                   "errors": [r["error"] for r in mine if "error" in r]}
        for metric in OUTBOUND_METRICS:
            values = [r[metric] for r in good if r.get(metric) is not None]
            summary[metric] = round(statistics.median(values), 2) if values else None
            if metric.endswith("_per_s") and values:
                summary[metric.replace("_per_s", "_range")] = [min(values), max(values)]
        entry["servers"][server] = summary
    tern, postfix = entry["servers"].get("tern"), entry["servers"].get("postfix")
    if tern and postfix:
        for metric in ("delivered_per_s", "first_to_last_per_s", "peak_rss_mib",
                       "peak_pss_mib", "cpu_s"):
            if tern.get(metric) and postfix.get(metric):
                entry["ratios"][metric] = round(tern[metric] / postfix[metric], 2)
    return entry


def outbound_verdict(entry):
    ratio = entry["ratios"].get("delivered_per_s")
    if ratio is None:
        return "not measured (both servers must complete at least one run)"
    return ("met" if ratio >= OUTBOUND_TARGET_RATIO else "NOT met") + f" ({ratio}×)"


OUTBOUND_COLUMNS = ("server", "delivered msg/s", "range", "delivery s", "first msg s",
                    "first→last msg/s", "peak RSS MiB", "peak PSS MiB", "processes", "CPU s",
                    "sink+dns CPU s", "other CPU s")


def outbound_rows(entry):
    out = []
    for server, s in entry["servers"].items():
        note = ""
        if s["ok"] < s["runs"]:
            note = f" ({s['runs'] - s['ok']} of {s['runs']} runs failed)"
        if s["runs"] == 0:
            note = " (not run)"
        rng = s.get("delivered_range")
        out.append([server + note, fmt(s["delivered_per_s"]),
                    f"{rng[0]:.0f}–{rng[1]:.0f}" if rng else "-",
                    fmt(s["delivered_s"]), fmt(s["first_s"]), fmt(s["first_to_last_per_s"]),
                    fmt(s["peak_rss_mib"]), fmt(s["peak_pss_mib"]), fmt(s["peak_processes"]),
                    fmt(s["cpu_s"]), fmt(s["helpers_cpu_s"]), fmt(s["other_cpu_s"])])
    if entry["ratios"]:
        r = entry["ratios"]
        out.append(["tern/postfix", fmt(r.get("delivered_per_s"), "×"), "", "", "",
                    fmt(r.get("first_to_last_per_s"), "×"), fmt(r.get("peak_rss_mib"), "×"),
                    fmt(r.get("peak_pss_mib"), "×"), "", fmt(r.get("cpu_s"), "×"), "", ""])
    return out


def outbound_heading(meta):
    return (f"Outbound: {meta['messages']} queued messages of {size_label(meta['size'])} to "
            f"{meta['domains']} domains, through nsd, to smtp-sink; median of {meta['repeat']}")


def render_outbound_text(entry, meta):
    body = outbound_rows(entry)
    widths = [max(len(OUTBOUND_COLUMNS[i]), *(len(r[i]) for r in body)) if body
              else len(OUTBOUND_COLUMNS[i]) for i in range(len(OUTBOUND_COLUMNS))]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    lines = ["", outbound_heading(meta), line(OUTBOUND_COLUMNS)]
    lines += [line(r) for r in body]
    for server, s in entry["servers"].items():
        for error in s["errors"]:
            lines.append(f"{server}: failed run: {error}")
    lines += ["", f"Target (Tern ≥ {OUTBOUND_TARGET_RATIO:g}× Postfix delivered msg/s): "
                  f"{outbound_verdict(entry)}"]
    return "\n".join(lines)


def render_outbound_markdown(entry, meta):
    lines = ["# Tern vs Postfix — outbound (`bench/run --outbound`)", "",
             f"Run {meta['started']} on {meta['host']['cpus']} CPUs, kernel "
             f"{meta['host']['kernel']}, queues on {meta['host']['tmp_fs']}. "
             + outbound_heading(meta) + ".", ""]
    for name, info in meta["servers"].items():
        lines.append(f"- **{name}**: " + ", ".join(f"{k} `{v}`" for k, v in info.items()))
    for name, reason in meta["skipped"].items():
        lines.append(f"- **{name}** skipped: {reason.splitlines()[0] if reason else ''}")
    lines += ["", "| " + " | ".join(OUTBOUND_COLUMNS) + " |",
              "|" + "|".join("---" if i == 0 else "---:" for i in range(len(OUTBOUND_COLUMNS)))
              + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in outbound_rows(entry)]
    for server, s in entry["servers"].items():
        for error in s["errors"]:
            lines.append(f"\n{server}: failed run: {error}")
    lines += ["", "delivered = messages / (last arrival at the sink − release); release = "
              "`postqueue -f` for Postfix (started and greeting), the start of `tern serve` "
              "for Tern (its start-up is included); first msg s = release to the first "
              "arrival; first→last = (messages − 1) / (last − first arrival); peak RSS = "
              "largest sum of VmRSS over the server's processes from release to the last "
              "arrival (Tern: also its VmHWM); CPU s = the server's CPU time in that window; "
              "sink+dns = smtp-sink and nsd; other = the rest of the machine.",
              "", f"Target (Tern ≥ {OUTBOUND_TARGET_RATIO:g}× Postfix delivered msg/s): "
                  f"**{outbound_verdict(entry)}**", ""]
    return "\n".join(lines)


def write_outbound_results(directory, entry, runs, meta):
    os.makedirs(directory, exist_ok=True)
    document = {"meta": meta, "summary": entry, "runs": runs,
                "target": outbound_verdict(entry)}
    json_path = os.path.join(directory, "latest-outbound.json")
    md_path = os.path.join(directory, "latest-outbound.md")
    with open(json_path, "w") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    with open(md_path, "w") as handle:
        handle.write(render_outbound_markdown(entry, meta))
    return json_path, md_path


def render_checks(rows):
    """Tern with SPF, DKIM and DMARC on against the same Tern with them off."""
    lines = ["", "Inbound checks (SPF, DKIM, DMARC) on vs off, Tern only:",
             f"{'size':>8}  {'sessions':>8}  {'off acc/s':>10}  {'on acc/s':>10}  {'on/off':>7}  "
             f"{'off del/s':>10}  {'on del/s':>10}"]
    for row in rows:
        off, on = row["servers"].get("tern", {}), row["servers"].get("tern+checks", {})
        ratio = (f"{on['accepted_per_s'] / off['accepted_per_s']:.2f}×"
                 if off.get("accepted_per_s") and on.get("accepted_per_s") else "-")
        lines.append(f"{size_label(row['size']):>8}  {row['sessions']:>8}  {fmt(off.get('accepted_per_s')):>10}  "
                     f"{fmt(on.get('accepted_per_s')):>10}  {ratio:>7}  {fmt(off.get('delivered_per_s')):>10}  "
                     f"{fmt(on.get('delivered_per_s')):>10}")
    return "\n".join(lines)
