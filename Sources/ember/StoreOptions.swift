// How a command that takes a model fetches it: download connections and the progress display.

import ArgumentParser
import EmberStore

struct StoreOptions: ParsableArguments {
    @Flag(name: .customLong("quiet"), help: "Show no download progress.")
    var quiet = false

    @Option(name: .customLong("connections"), help: "Parallel range requests per download.")
    var connections = 8

    func validate() throws {
        if connections < 1 || connections > 64 { throw ValidationError("--connections must be between 1 and 64") }
    }

    /// The store at $EMBER_HOME with these options.
    var store: ModelStore {
        var store = ModelStore.standard()
        store.connections = connections
        store.progress = quiet ? .quiet : .automatic
        return store
    }
}

/// The help text of every `-m`.
let modelHelp = "Model: a GGUF file path, an http(s) URL, hf:OWNER/REPO/FILE[@REVISION], or an alias such as \(ModelAliases.defaultModel)."
