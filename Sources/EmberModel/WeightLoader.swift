// Looks up a model's tensors by their GGUF names, checks their shapes, and binds them to a backend.
// One place for the name → tensor mapping errors, so every architecture reports them the same way.

import EmberCompute
import EmberFormats

struct WeightLoader {
    let file: any ModelSource
    let backend: Backend

    /// The tensor `name`, which must have exactly `shape` (ggml order: row length first).
    func tensor(_ name: String, shape: [Int]) throws(ModelError) -> Tensor {
        guard let view = file.view(named: name) else { throw .missingTensor(name) }
        guard view.shape == shape else { throw .shapeMismatch(tensor: name, expected: shape, found: view.shape) }
        do { return try backend.bind(view) } catch { throw .backend(error) }
    }

    func optionalTensor(_ name: String, shape: [Int]) throws(ModelError) -> Tensor? {
        file.tensorInfo(named: name) == nil ? nil : try tensor(name, shape: shape)
    }

    /// An F32 vector tensor's values copied out (small per-model constants such as rope factors).
    func floats(_ name: String, count: Int) throws(ModelError) -> [Float]? {
        guard let view = file.view(named: name) else { return nil }
        guard view.shape == [count] else { throw .shapeMismatch(tensor: name, expected: [count], found: view.shape) }
        guard view.type == .f32 else { throw .backend(.unsupportedType(tensor: name, type: view.type)) }
        return Array(view.bytes.bindMemory(to: Float.self))
    }
}
