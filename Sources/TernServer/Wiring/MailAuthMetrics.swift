import CoreMetrics
import TernMailAuth

/// The verdicts of the checks after DATA, counted in swift-metrics for
/// the Prometheus endpoint, with RFC 8601's result names as `result`:
///
/// - `tern_spf_results_total{result}`: none, neutral, pass, fail,
///   softfail, temperror, permerror — one per message checked.
/// - `tern_dkim_results_total{result}`: pass, fail, neutral, policy,
///   temperror, permerror — one per signature; `none` once for a message
///   without any.
/// - `tern_dmarc_results_total{result}`: none, pass, fail, temperror,
///   permerror — one per message checked.
///
/// Only mail the checks ran on is counted: authenticated submissions are
/// not checked, and a check that `[checks]` turns off counts nothing.
struct MailAuthMetrics: Sendable {
    private let factory: any MetricsFactory
    private let counters: [String: Counter]

    private static let results = [
        "spf": SPFVerdict.allCases.map(\.rawValue),
        "dkim": ["none", "pass", "fail", "neutral", "policy", "temperror", "permerror"],
        "dmarc": ["none", "pass", "fail", "temperror", "permerror"],
    ]

    /// - Parameter factory: where the counters live. Default: the
    ///   process's bootstrapped `MetricsSystem`.
    init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        var counters: [String: Counter] = [:]
        for (method, results) in Self.results {
            for result in results {
                counters[method + "=" + result] = Self.counter(method, result, factory)
            }
        }
        self.counters = counters
    }

    /// Counts one result of `spf`, `dkim` or `dmarc` as it goes into
    /// Authentication-Results.
    func record(_ result: AuthenticationResults.Result) {
        guard Self.results[result.method] != nil else { return }
        let counter = counters[result.method + "=" + result.result]
            ?? Self.counter(result.method, result.result, factory)
        counter.increment()
    }

    private static func counter(_ method: String, _ result: String, _ factory: any MetricsFactory) -> Counter {
        Counter(label: "tern_\(method)_results_total", dimensions: [("result", result)], factory: factory)
    }
}
