// Whether a run of a loaded model fits before anything is allocated for it: KV caches (context x
// slots x layers x width x type), activations and weights against the memory this process may use
// (physical memory and the cgroup's limit); and what to say of a context beyond the trained one.

import EmberCompute
import EmberModel
import Foundation

/// A run sized beyond the memory this process may use, with the numbers and the way out.
public struct MemoryShortfall: Error, Equatable, CustomStringConvertible {
    public let contextLength: Int
    public let slots: Int
    public let cacheType: CacheType
    /// Bytes of KV cache per position of one slot.
    public let bytesPerPosition: Int
    /// Bytes of all the KV caches; nil when the count overflows.
    public let cacheBytes: Int?
    public let weightBytes: Int
    public let activationBytes: Int
    public let usableBytes: Int
    /// The largest context that fits with these slots.
    public let fittingContext: Int

    public var description: String {
        let slotText = slots > 1 ? " for each of \(slots) slots" : ""
        return "a context of \(contextLength) tokens\(slotText) needs "
            + (cacheBytes.map(Self.gigabytes) ?? "more than \(Self.gigabytes(Int.max))")
            + " of KV cache (\(bytesPerPosition) bytes per position in \(cacheType.rawValue)), the weights \(Self.gigabytes(weightBytes)) "
            + "and the activations \(Self.gigabytes(activationBytes)), but this process may use \(Self.gigabytes(usableBytes)): "
            + "use -c \(fittingContext) or less" + (slots > 1 ? ", fewer --parallel slots" : "")
            + (cacheType == .f32 ? ", or --cache-type f16" : cacheType == .f16 ? ", or --cache-type q8_0" : "")
    }

    static func gigabytes(_ bytes: Int) -> String { String(format: "%.1f GB", Double(bytes) / 1e9) }
}

extension LoadedModel {
    /// Throws unless `slots` KV caches of `contextLength` positions in `cacheType`, the activations and
    /// the weights fit in `usableBytes` (default: what this process may use).
    public func checkFits(contextLength: Int, slots: Int, cacheType: CacheType,
                          usableBytes: Int = MemoryLimit.usableBytes()) throws(MemoryShortfall) {
        let fixed = source.weightBytes + model.activationBytes
        /// The caches of every slot at `context` positions, or nil past Int.max.
        func cacheBytes(_ context: Int) -> Int? {
            let (bytes, overflow) = model.cacheBytes(capacity: context, type: cacheType).multipliedReportingOverflow(by: slots)
            return overflow || bytes == .max ? nil : bytes
        }
        func fits(_ context: Int) -> Bool { cacheBytes(context).map { $0 <= usableBytes - fixed } ?? false }
        guard !fits(contextLength) else { return }
        // The largest context that fits (cache bytes grow with the context).
        var (low, high) = (0, contextLength)
        while low < high {
            let middle = high - (high - low) / 2
            if fits(middle) { low = middle } else { high = middle - 1 }
        }
        throw MemoryShortfall(contextLength: contextLength, slots: slots, cacheType: cacheType,
                              bytesPerPosition: model.cacheBytesPerPosition(type: cacheType), cacheBytes: cacheBytes(contextLength),
                              weightBytes: source.weightBytes, activationBytes: model.activationBytes, usableBytes: usableBytes,
                              fittingContext: low)
    }

    /// What to warn of a context of `contextLength`: nil within the trained context.
    public func contextWarning(_ contextLength: Int) -> String? {
        guard contextLength > model.trainedContextLength else { return nil }
        return "-c \(contextLength) is beyond the \(model.trainedContextLength) tokens this model was trained on; "
            + "its \(model.positionEncoding) is applied as is past them, and output usually degrades there"
    }
}
