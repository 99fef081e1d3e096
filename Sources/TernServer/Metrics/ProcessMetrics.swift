import CoreMetrics
import Prometheus

extension Server.Options {
    /// Makes the process's `MetricsSystem` write into `metricsRegistry`, so
    /// that metrics made anywhere through the global API (by Tern or a
    /// library) are served by `[metrics] address` too. For a process that
    /// runs one server (`tern serve`); call it once, before `Server.start`:
    /// swift-metrics allows one bootstrap per process. Tests, which run many
    /// servers in one process, leave the global alone and let each server
    /// count into its own registry.
    public func bootstrapMetricsSystem() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metricsRegistry))
    }
}
