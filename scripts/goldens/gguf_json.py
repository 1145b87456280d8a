"""GGUF files as JSON fixtures, so that no model file is committed: the Swift tests write them back
to a temporary GGUF with EmberTestSupport's GGUFBuilder (Tests/EmberTestSupport/GGUFJSON.swift).

metadata: an ordered list of {key, type, element_type (arrays), value};
tensors:  a list of {name, shape (ggml order, row length first), type, data (base64 of the bytes)}.
Needs the `gguf` package (pip, or llama.cpp's gguf-py on sys.path).
"""
import base64
import json

import gguf


def metadata_entries(reader):
    """The file's metadata as {key, type, element_type, value} entries, in file order."""
    entries = []
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        entry = {"key": key, "type": field.types[0].name.lower()}
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            entry["element_type"] = field.types[1].name.lower()
        entry["value"] = field.contents()
        entries.append(entry)
    return entries


def write_metadata_json(gguf_path, out_path):
    """The metadata of the GGUF at `gguf_path`, as a JSON list (vocabulary fixtures)."""
    with open(out_path, "w") as f:
        json.dump(metadata_entries(gguf.GGUFReader(gguf_path)), f, ensure_ascii=False)
        f.write("\n")


def write_model_json(gguf_path, out_path):
    """The whole GGUF at `gguf_path`: metadata and tensors (tiny test models)."""
    reader = gguf.GGUFReader(gguf_path)
    tensors = [{"name": tensor.name, "shape": [int(n) for n in tensor.shape], "type": tensor.tensor_type.name.lower(),
                "data": base64.b64encode(tensor.data.tobytes()).decode("ascii")} for tensor in reader.tensors]
    with open(out_path, "w") as f:
        json.dump({"metadata": metadata_entries(reader), "tensors": tensors}, f, ensure_ascii=False)
        f.write("\n")
