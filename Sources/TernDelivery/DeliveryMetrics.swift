import CoreMetrics

/// Delivery attempts counted in swift-metrics, for the Prometheus endpoint:
///
/// - `tern_deliveries_total{destination, outcome}`: one per destination
///   tried (a recipient expanded by an alias to several mailboxes counts
///   once for each). `destination`: `local` (a Maildir), `remote` (MX,
///   relay host or capture) or `none` (routing itself failed, e.g. a user
///   removed while the message waited). `outcome`: `delivered`,
///   `deferred` (4yz: tried again later, until the queue lifetime ends) or
///   `bounced` (5yz: a bounce is owed). Recipients that nothing was tried
///   for (`DeliveryOutcome.notAttempted`) are not counted.
///
/// Fed by the scheduler's `DeliveryEvent`s: pass `record` as its `onEvent`
/// (or call it from one). Every series is made up front.
public struct DeliveryMetrics: Sendable {
    /// [destination][outcome], in the orders of `destinations` and `outcomes`.
    private let deliveries: [[Counter]]

    static let destinations = ["local", "remote", "none"]
    static let outcomes = ["delivered", "deferred", "bounced"]

    /// - Parameter factory: where the counters live. Default: the
    ///   process's bootstrapped `MetricsSystem`.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        deliveries = Self.destinations.map { destination in
            Self.outcomes.map { outcome in
                Counter(label: "tern_deliveries_total", dimensions: [("destination", destination), ("outcome", outcome)],
                        factory: factory)
            }
        }
    }

    /// Counts an `.attempted` event; ignores the others.
    public func record(_ event: DeliveryEvent) {
        guard case .attempted(_, _, let destination, let outcome) = event else { return }
        let d: Int
        switch destination {
        case .local: d = 0
        case .remote: d = 1
        case nil: d = 2
        }
        let o: Int
        switch outcome {
        case .delivered: o = 0
        case .temporaryFailure: o = 1
        case .permanentFailure: o = 2
        case .notAttempted: return
        }
        deliveries[d][o].increment()
    }
}
