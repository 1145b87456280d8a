// A duration in seconds as a Double: how timings are reported everywhere (summaries, progress,
// metrics, benchmarks).

extension Duration {
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
