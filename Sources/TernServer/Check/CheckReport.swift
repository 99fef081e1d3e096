import Foundation

/// The findings of `tern check` written for people (a section per host,
/// domain, TLS and outbound mail; the record to publish under each
/// problem) or for scripts (JSON).
public enum CheckReport {
    /// Text for a terminal. `problemsOnly` leaves out what is right.
    public static func text(_ findings: [CheckFinding], problemsOnly: Bool = false) -> String {
        var out = ""
        var scope: String?
        for finding in findings where !problemsOnly || finding.severity >= .warning {
            if finding.scope != scope {
                scope = finding.scope
                out += (out.isEmpty ? "" : "\n") + finding.scope + "\n"
            }
            // Problems stand out in capitals; what is right does not shout.
            let label = finding.severity <= .info ? finding.severity.rawValue : finding.severity.rawValue.uppercased()
            out += "  " + pad(label, 8) + pad(finding.area.rawValue, 9) + " " + finding.subject + ": " + finding.message + "\n"
            if let record = finding.record { out += block("publish:", record) }
            if let advice = finding.advice { out += block("to fix:", advice) }
        }
        return out + (out.isEmpty ? "" : "\n") + summary(findings) + "\n"
    }

    /// `2 errors, 1 warning, 14 ok: …` with what to do next.
    public static func summary(_ findings: [CheckFinding]) -> String {
        let errors = findings.count(.error), warnings = findings.count(.warning), ok = findings.count(.ok)
        var parts = ["\(errors) error\(errors == 1 ? "" : "s")", "\(warnings) warning\(warnings == 1 ? "" : "s")", "\(ok) ok"]
        if findings.count(.info) > 0 { parts.append("\(findings.count(.info)) note\(findings.count(.info) == 1 ? "" : "s")") }
        let next = errors > 0
            ? "fix the errors above (publish the records shown; DNS changes take up to their TTL to be seen), then run tern check again."
            : (warnings > 0 ? "mail should flow; the warnings are worth fixing." : "everything checked is in order.")
        return parts.joined(separator: ", ") + ": " + next
    }

    /// The findings as one JSON object: `passed`, `errors`, `warnings` and
    /// `findings` (each with scope, area, subject, severity, message and,
    /// when there is one, record and advice).
    public static func json(_ findings: [CheckFinding], hostname: String) -> String {
        struct Document: Encodable {
            var hostname: String
            var passed: Bool
            var errors: Int
            var warnings: Int
            var findings: [CheckFinding]
        }
        let document = Document(hostname: hostname, passed: findings.passed, errors: findings.count(.error),
                                warnings: findings.count(.warning), findings: findings)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(document) else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// A labelled block under a finding, continuation lines indented.
    private static func block(_ label: String, _ text: String) -> String {
        let indent = String(repeating: " ", count: 20)
        var out = ""
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            out += indent + (i == 0 ? pad(label, 10) : String(repeating: " ", count: 10)) + line + "\n"
        }
        return out
    }
}
