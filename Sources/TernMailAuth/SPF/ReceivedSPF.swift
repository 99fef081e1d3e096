/// The Received-SPF header field (RFC 7208 §9.1) for one `SPFResult`.
///
///     Received-SPF: pass (mx.example.org: domain of a@example.com designates
///      192.0.2.1 as permitted sender) receiver=mx.example.org;
///      client-ip=192.0.2.1; envelope-from="a@example.com"; helo=mail.example.com;
///      identity=mailfrom
///
/// Every value comes from the peer (sender, HELO name) or from DNS
/// (explanations): values are written as a dot-atom when they are one and as
/// a quoted-string otherwise, with control characters dropped, so no peer can
/// add a line or a key.
public enum ReceivedSPF {
    public static let fieldName = "Received-SPF"

    /// The whole field, folded, ending with CRLF. `receiver` is this host's
    /// name (Tern's `hostname`).
    public static func render(_ result: SPFResult, receiver: String) -> String {
        let ip = result.clientIP.description
        let comment = "(" + AuthenticationResults.commentText(receiver + ": " + Self.comment(result, ip: ip)) + ")"
        var pairs: [(String, String)] = [
            ("receiver", receiver),
            ("client-ip", ip),
            ("envelope-from", result.sender),
            ("helo", result.helo),
            ("identity", result.identity.rawValue),
        ]
        if result.verdict == .permerror || result.verdict == .temperror, let reason = result.reason {
            pairs.append(("problem", reason))
        }
        var atoms = [result.verdict.rawValue]
        atoms += comment.split(separator: " ").map(String.init)
        for (index, (key, value)) in pairs.enumerated() {
            atoms.append(key + "=" + Self.value(value) + (index < pairs.count - 1 ? ";" : ""))
        }
        var out = fieldName + ":"
        var line = out.utf8.count
        for atom in atoms {
            if line + 1 + atom.utf8.count > AuthenticationResults.preferredLineLength, line > 1 {
                out += "\r\n "
                line = 1
            } else {
                out += " "
                line += 1
            }
            out += atom
            line += atom.utf8.count
        }
        return out + "\r\n"
    }

    /// The comment text RFC 7208 §9.1 suggests for each result.
    static func comment(_ r: SPFResult, ip: String) -> String {
        let source = r.identity == .helo ? "domain of " + r.domain : "domain of " + r.sender
        switch r.verdict {
        case .pass: return "\(source) designates \(ip) as permitted sender"
        case .fail: return "\(source) does not designate \(ip) as permitted sender"
        case .softfail: return "transitioning \(source) does not designate \(ip) as permitted sender"
        case .neutral: return "\(ip) is neither permitted nor denied by \(source)"
        case .none: return "\(source) does not provide an SPF record"
        case .temperror: return "temporary error while checking \(source)"
        case .permerror: return "permanent error in the SPF record of \(r.domain)"
        }
    }

    /// `dot-atom / quoted-string` (RFC 5322 §3.2.3, §3.2.4), clipped.
    static func value(_ s: String) -> String {
        let v = AuthenticationResults.clip(s, to: AuthenticationResults.maximumValueLength)
        let atext = Set("!#$%&'*+-/=?^_`{|}~".utf8)
        let isDotAtom = !v.isEmpty && v.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { isAlnum($0) || atext.contains($0) }
        }
        return isDotAtom ? v : AuthenticationResults.quoted(v)
    }
}
