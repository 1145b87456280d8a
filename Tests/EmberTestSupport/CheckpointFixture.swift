// Hugging Face checkpoints kept as JSON fixtures (scripts/goldens/make_tiny_models.py): each file of
// the directory as text or base64, written back to a temporary directory for a test.

import Foundation

public enum CheckpointFixture {
    struct Fixture: Decodable {
        struct File: Decodable {
            let text: String?
            let base64: String?
        }

        let files: [String: File]
    }

    /// The checkpoint of `json` written to a new temporary directory, whose path comes back; the
    /// caller deletes it.
    public static func directory(json url: URL) throws -> String {
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ember-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, file) in fixture.files {
            guard let data = file.text.map({ Data($0.utf8) }) ?? file.base64.flatMap({ Data(base64Encoded: $0) }) else {
                throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: "\(url.lastPathComponent): \(name)"])
            }
            try data.write(to: directory.appendingPathComponent(name))
        }
        return directory.path
    }
}
