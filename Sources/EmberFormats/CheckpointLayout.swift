// The file names of a Hugging Face checkpoint, known to the store (what to fetch of a repository)
// and to the checkpoint reader (what to read of a directory) alike.

public enum CheckpointLayout {
    /// Files read before the weights, those of them a checkpoint has (config.json and tokenizer.json
    /// are required to run it).
    public static let metadataFiles = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                                       "chat_template.jinja"]
    /// Maps each tensor to its shard in a sharded checkpoint.
    public static let indexFile = "model.safetensors.index.json"
    /// Weights in pickle's formats, which Ember never loads.
    public static let pickleExtensions = [".bin", ".pt", ".pth", ".ckpt", ".pkl"]

    public static func isPickle(_ name: String) -> Bool { pickleExtensions.contains { name.hasSuffix($0) } }
}
