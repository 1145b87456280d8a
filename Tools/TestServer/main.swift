// `ember-test-server`: the loopback test file server as a process of its own, for the command-line
// tests and the download benchmark (which must not share a process, or its threads, with the client
// they measure).
//
//     ember-test-server [--rate BYTES_PER_SECOND] [--latency-ms N] [--no-ranges] [--etag opaque|sha256|none]
//                       [--stall-after BYTES] [--hub CHECKPOINT_DIRECTORY] FILE...
//
// --stall-after: every response sends its head and that many body bytes, then nothing more.
// --hub: serves the checkpoint's files as the Hub serves repository `owner/repo` (FakeHub), for
// `HF_ENDPOINT=http://127.0.0.1:PORT/ ember run -m hf:owner/repo`.
//
// Serves each FILE at /<its name>, prints the port on stdout, serves until stdin closes, then prints
// `bytes_sent N` (body bytes sent in all).

import EmberTestServer
import Foundation

var configuration = Configuration()
var files: [String: [UInt8]] = [:]
var arguments = CommandLine.arguments.dropFirst()
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ember-test-server: \(message)\n".utf8))
    exit(2)
}
while let argument = arguments.popFirst() {
    switch argument {
    case "--rate":
        guard let value = arguments.popFirst().flatMap(Int.init), value > 0 else { fail("--rate needs bytes per second") }
        configuration.bytesPerSecondPerConnection = value
    case "--latency-ms":
        guard let value = arguments.popFirst().flatMap(Int.init), value >= 0 else { fail("--latency-ms needs milliseconds") }
        configuration.latency = .milliseconds(value)
    case "--stall-after":
        guard let value = arguments.popFirst().flatMap(Int.init), value >= 0 else { fail("--stall-after needs a byte count") }
        configuration.fault = { _ in .stallAfter(bytes: value) }
    case "--hub":
        guard let directory = arguments.popFirst(), let checkpoint = try? FakeHub.files(inDirectory: directory) else { fail("--hub needs a readable directory") }
        let hub = FakeHub.hosting(checkpoint)
        files.merge(hub.files) { $1 }
        configuration.redirects.merge(hub.redirects) { $1 }
    case "--no-ranges":
        configuration.supportsRanges = false
    case "--etag":
        switch arguments.popFirst() {
        case "opaque": configuration.etag = .opaque
        case "sha256": configuration.etag = .sha256
        case "none": configuration.etag = .none
        default: fail("--etag is opaque, sha256 or none")
        }
    default:
        guard let contents = FileManager.default.contents(atPath: argument) else { fail("cannot read \(argument)") }
        files["/" + URL(fileURLWithPath: argument).lastPathComponent] = [UInt8](contents)
    }
}

let server = try await TestFileServer.start(files: files, configuration: configuration)
FileHandle.standardOutput.write(Data("\(server.port)\n".utf8))
await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
    Thread.detachNewThread {
        _ = FileHandle.standardInput.readDataToEndOfFile()
        done.resume()
    }
}
FileHandle.standardOutput.write(Data("bytes_sent \(server.bytesSent)\n".utf8))
try await server.shutdown()
