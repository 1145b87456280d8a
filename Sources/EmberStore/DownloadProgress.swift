// What a download shows while it runs: on a terminal, one line redrawn in place (bytes, rate, ETA);
// when stderr is not a terminal, a plain line every few seconds; nothing with --quiet; or, for a
// server streaming a pull's progress to its client, the counts handed to a callback.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EmberTrace
import Foundation
import Synchronization

public enum ProgressStyle: Sendable {
    /// A bar on a terminal, periodic lines otherwise.
    case automatic
    case quiet
    /// The file's name, the bytes it has and its size, a few times a second and once at the end.
    case report(@Sendable (_ name: String, _ done: Int, _ total: Int) -> Void)

    var isQuiet: Bool {
        if case .quiet = self { true } else { false }
    }
}

final class DownloadProgress: Sendable {
    private let name: String
    private let total: Int
    private let style: ProgressStyle
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let start = ContinuousClock.now
    private struct State {
        var done = 0
        var lastShown = ContinuousClock.now - .seconds(60)
        var shownAny = false
    }
    private let state = Mutex(State())

    init(name: String, total: Int, alreadyDone: Int, style: ProgressStyle) {
        self.name = name
        self.total = total
        self.style = style
        state.withLock { $0.done = alreadyDone }
    }

    /// Counts `bytes` more received, and shows the progress if it is time to.
    func add(_ bytes: Int) {
        if style.isQuiet { return }
        let reported: Bool
        if case .report = style { reported = true } else { reported = false }
        let line: String? = state.withLock { state in
            state.done += bytes
            let now = ContinuousClock.now
            guard now - state.lastShown >= (isTerminal || reported ? .milliseconds(100) : .seconds(3)) else { return nil }
            state.lastShown = now
            state.shownAny = true
            return render(done: state.done, now: now)
        }
        if let line { show(line) }
    }

    /// The final line (with a newline on a terminal).
    func finish() {
        if style.isQuiet { return }
        let (done, shown) = state.withLock { ($0.done, $0.shownAny) }
        if case let .report(callback) = style { return callback(name, done, total) }
        guard shown || !isTerminal else { return }
        show(render(done: done, now: .now) + (isTerminal ? "\n" : ""))
    }

    private func render(done: Int, now: ContinuousClock.Instant) -> String {
        let elapsed = max((now - start).seconds, 1e-3)
        let rate = Double(done) / elapsed
        let fraction = total > 0 ? Double(done) / Double(total) : 0
        let eta = rate > 0 && total > done ? Double(total - done) / rate : 0
        let text = "\(name): \(Self.megabytes(done)) / \(Self.megabytes(total)) MB, \(Self.megabytes(Int(rate))) MB/s, ETA \(Int(eta.rounded())) s"
        guard isTerminal else { return text }
        let width = 24, filled = Int(fraction * Double(width))
        return "\r[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] " + text + "\u{1B}[K"
    }

    private func show(_ line: String) {
        if case let .report(callback) = style { return callback(name, state.withLock { $0.done }, total) }
        FileHandle.standardError.write(Data((isTerminal ? line : line + "\n").utf8))
    }

    private static func megabytes(_ bytes: Int) -> String {
        String(format: "%.1f", Double(bytes) / 1e6)
    }
}
