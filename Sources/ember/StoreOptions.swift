// How a command that takes a model fetches it: download connections, the progress display, the
// network's timeouts and retries (defaults from EMBER_CONNECT_TIMEOUT, EMBER_STALL_TIMEOUT,
// EMBER_RETRIES), and whether to stay offline (EMBER_OFFLINE=1 or HF_HUB_OFFLINE=1 also do).

import ArgumentParser
import EmberStore

struct StoreOptions: ParsableArguments {
    @Flag(name: .customLong("quiet"), help: "Show no download progress.")
    var quiet = false

    @Option(name: .customLong("connections"), parsing: .unconditional, help: "Parallel range requests per download.")
    var connections = 8

    @Flag(name: .customLong("offline"), help: "Use only the model cache; never touch the network (also EMBER_OFFLINE=1 or HF_HUB_OFFLINE=1).")
    var offline = false

    @Option(name: .customLong("connect-timeout"), parsing: .unconditional,
            help: "Seconds to keep trying to connect (DNS, refused, unreachable, no answer), retries included (default 15, or EMBER_CONNECT_TIMEOUT).")
    var connectTimeout: Double?

    @Option(name: .customLong("stall-timeout"), parsing: .unconditional,
            help: "Seconds a download may go without a byte before it is broken off and retried (default 30, or EMBER_STALL_TIMEOUT).")
    var stallTimeout: Double?

    @Option(name: .customLong("retries"), parsing: .unconditional,
            help: "Retries of a failed request: a stalled or broken transfer, a server error (default 4, or EMBER_RETRIES).")
    var retries: Int?

    func validate() throws {
        if connections < 1 || connections > 64 { throw ValidationError("--connections must be between 1 and 64") }
    }

    /// The store at $EMBER_HOME with these options; a network setting out of its range is an error
    /// naming it.
    var store: ModelStore {
        get throws {
            var store = ModelStore.standard()
            store.connections = connections
            store.progress = quiet ? .quiet : .automatic
            store.network = try NetworkPolicy(environment: store.environment)
            if offline { store.network.offline = true }
            if let connectTimeout { store.network.connectTimeout = try NetworkPolicy.duration(seconds: connectTimeout, name: "--connect-timeout") }
            if let stallTimeout { store.network.stallTimeout = try NetworkPolicy.duration(seconds: stallTimeout, name: "--stall-timeout") }
            if let retries { store.network.attempts = try NetworkPolicy.attempts(retries: retries, name: "--retries") }
            return store
        }
    }
}

/// The help text of every `-m`.
let modelHelp = "Model: a GGUF file path, an http(s) URL, hf:OWNER/REPO/FILE[@REVISION], or an alias such as \(ModelAliases.defaultModel)."
