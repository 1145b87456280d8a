// `ember rm`: remove models from the cache (and any unfinished download of them).

import ArgumentParser
import EmberStore

struct RemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove models from the cache.")

    @Argument(help: "The models, named as when they were pulled (a URL, hf: reference or alias).")
    var models: [String]

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.apply(command: "rm")
        let store = ModelStore.standard()
        for model in models {
            try store.remove(model)
            print("removed \(model)")
        }
    }
}
