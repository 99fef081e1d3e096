import CoreMetrics

/// The resolver's counters in swift-metrics, for the Prometheus endpoint:
///
/// - `tern_dns_lookups_total{type, result}`: every lookup the program made,
///   answered from the cache or not; `type` is the record type (`MX`,
///   `TXT`, …), `result` one of `found`, `nxdomain`, `nodata`, `servfail`,
///   `timeout`, `failure`.
/// - `tern_dns_queries_total`: queries put on the wire (UDP and TCP,
///   retries included); lookups less queries is what the cache saved.
///
/// Every series is made up front, so a dashboard sees zeros rather than
/// nothing; recording is an atomic add, no lookup.
public struct DNSMetrics: Sendable {
    /// Indexed by the record type's position in `DNSRecordType.allCases`, then by `Result`.
    private let lookups: [[Counter]]
    private let queries: Counter

    static let results = ["found", "nxdomain", "nodata", "servfail", "timeout", "failure"]

    /// - Parameter factory: where the counters live. Default: the
    ///   process's bootstrapped `MetricsSystem` (none: counted nowhere).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        lookups = DNSRecordType.allCases.map { type in
            Self.results.map { result in
                Counter(label: "tern_dns_lookups_total", dimensions: [("type", "\(type)"), ("result", result)],
                        factory: factory)
            }
        }
        queries = Counter(label: "tern_dns_queries_total", dimensions: [], factory: factory)
    }

    func lookedUp<R>(_ type: DNSRecordType, _ result: DNSResult<R>) {
        guard let t = DNSRecordType.allCases.firstIndex(of: type) else { return }
        let r: Int
        switch result {
        case .found: r = 0
        case .nxdomain: r = 1
        case .nodata: r = 2
        case .servfail: r = 3
        case .timeout: r = 4
        case .failure: r = 5
        }
        lookups[t][r].increment()
    }

    func querySent() {
        queries.increment()
    }
}
