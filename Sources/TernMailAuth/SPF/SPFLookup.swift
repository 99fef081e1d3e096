import TernDNS

/// The DNS an SPF check needs (RFC 7208 §4.4, §5): TXT for records and
/// explanations, A/AAAA, MX and PTR for mechanisms. The server uses
/// `TernDNS.DNSResolver`; nothing here reaches the system resolver.
public protocol SPFLookup: Sendable {
    func txt(_ name: String) async -> DNSResult<String>
    func a(_ name: String) async -> DNSResult<DNSAddress>
    func aaaa(_ name: String) async -> DNSResult<DNSAddress>
    func mx(_ name: String) async -> DNSResult<MXRecord>
    func ptr(_ address: DNSAddress) async -> DNSResult<String>
}

extension DNSResolver: SPFLookup {}
