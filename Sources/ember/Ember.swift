// The `ember` command line: argument parsing and terminal output only; the work happens in the
// library targets.

import ArgumentParser

@main
struct Ember: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ember",
        abstract: "Run large language models locally, fast, on the CPU.",
        subcommands: [RunCommand.self, ChatCommand.self, ServeCommand.self, InspectCommand.self, BenchCommand.self, ConvertCommand.self, PullCommand.self, ListCommand.self, RemoveCommand.self, DevicesCommand.self,
                      CacheCommand.self, TraceCommand.self, LoadProbeCommand.self],
        defaultSubcommand: RunCommand.self)
}
