// What a store's cache directory holds, for tests that check nothing was left behind.

import EmberStore
import Foundation

enum CacheFiles {
    /// Names of every file under the cache root, lock files aside (they are kept, empty, by design).
    static func all(_ store: ModelStore) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: store.cache.root.path) else { return [] }
        var names: [String] = []
        while let path = walker.nextObject() as? String {
            let url = store.cache.root.appendingPathComponent(path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  !path.hasSuffix(".lock") else { continue }
            names.append(url.lastPathComponent)
        }
        return names
    }
}
