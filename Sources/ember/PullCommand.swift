// `ember pull`: fetch a model into the cache (or finish an interrupted download) and print its path.

import ArgumentParser
import EmberStore
import Foundation

struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Download a model into the cache and print its local path.")

    @Argument(help: ArgumentHelp(modelHelp))
    var model: String

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.apply(command: "pull")
        let store = try storeOptions.store
        let reference = model
        let path = try Blocking.run { () throws(StoreError) in try await store.pull(reference) }
        print(path)
    }
}
