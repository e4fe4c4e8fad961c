/// A `pytorch_model.bin` in PyTorch's zip format (the `torch.save` default since 1.6):
/// STORED members `<prefix>/data.pkl` (the state dict as a pickle), `<prefix>/data/<key>`
/// (one raw storage blob per key; several tensors may view one storage), and optional
/// `<prefix>/byteorder` ("little"). The pickle is read by `RestrictedUnpickler`, which runs
/// no code, and every tensor is validated against its storage blob at open time.
public final class TorchCheckpoint: MappedCheckpoint {
    public let path: String
    public let tensors: [SourceTensor]

    /// data.pkl of a state dict is ~100 bytes per tensor; anything this large is not one.
    static let maxPickleBytes = 256 << 20

    let mapping: CheckpointMapping
    let index: [String: (tensor: SourceTensor, offset: Int)]

    public init(path: String) throws {
        self.path = path
        mapping = try CheckpointMapping(path: path)

        // Before 1.6 (or with _use_new_zipfile_serialization=False) torch.save wrote a bare
        // pickle stream starting with PROTO; tar files are older still.
        if let head = mapping.bytes(at: 0, count: 2), head[0] == 0x80 {
            throw ConversionError(.malformedTorchCheckpoint, file: path, field: "file header",
                                  problem: "this is a legacy (pre-1.6, non-zip) torch.save checkpoint, which can only be read by running its pickle",
                                  fix: "in trusted Python: torch.save(torch.load(path), new_path) with torch ≥ 1.6, or convert it to safetensors")
        }
        let archive = try ZipArchive(mapping: mapping)
        let prefix = try Self.findPrefix(archive)
        try Self.checkByteOrder(archive, prefix: prefix, mapping: mapping)

        let pickleName = prefix + "data.pkl"
        guard let pickleEntry = archive.entry(named: pickleName) else {
            throw ConversionError(.malformedTorchCheckpoint, file: path, field: pickleName,
                                  problem: "the archive has no \(pickleName)", fix: "re-save the checkpoint with torch.save")
        }
        let (pickleOffset, pickleCount) = try archive.storedData(pickleEntry)
        guard pickleCount <= Self.maxPickleBytes else {
            throw ConversionError(.malformedTorchCheckpoint, file: path, field: pickleName,
                                  problem: "the pickle is \(pickleCount) bytes, more than the \(Self.maxPickleBytes)-byte limit for a state dict",
                                  fix: "save model.state_dict() rather than a whole object, or convert to safetensors")
        }
        guard let pickleBytes = mapping.bytes(at: pickleOffset, count: pickleCount) else {
            throw ConversionError(.offsetOutOfRange, file: path, field: pickleName,
                                  problem: "the pickle lies outside the file", fix: "the archive is truncated; download or re-save it")
        }
        var unpickler = RestrictedUnpickler(bytes: pickleBytes, file: path, member: pickleName)
        let root = try unpickler.load()

        let resolver = StorageResolver(archive: archive, prefix: prefix, path: path)
        var tensors: [SourceTensor] = []
        var index: [String: (tensor: SourceTensor, offset: Int)] = [:]
        for (name, tensor) in try Self.stateDictEntries(root, path: path, member: pickleName) {
            let (source, offset) = try resolver.resolve(name: name, tensor)
            tensors.append(source)
            index[name] = (source, offset)
        }
        self.tensors = tensors
        self.index = index
    }

    let tensorField = "tensor"

    // MARK: - Archive layout

    /// torch names every member `<archive name>/...`; the folder holding data.pkl is the prefix.
    private static func findPrefix(_ archive: ZipArchive) throws -> String {
        let candidates = archive.entries.map(\.name).filter {
            $0 == "data.pkl" || ($0.hasSuffix("/data.pkl") && $0.dropLast("/data.pkl".count).firstIndex(of: "/") == nil)
        }
        if candidates.count == 1, let name = candidates.first {
            return String(name.dropLast("data.pkl".count))
        }
        if candidates.isEmpty {
            let isTorchScript = archive.entries.contains { $0.name.hasSuffix("constants.pkl") || $0.name.contains("/code/") }
            throw ConversionError(.malformedTorchCheckpoint, file: archive.path, field: "<archive>/data.pkl",
                                  problem: isTorchScript
                                      ? "this is a TorchScript archive (torch.jit.save), not a state dict"
                                      : "the ZIP archive has no data.pkl, so it is not a torch.save checkpoint",
                                  fix: "save the weights with torch.save(model.state_dict(), path) or safetensors.torch.save_file")
        }
        throw ConversionError(.malformedTorchCheckpoint, file: archive.path, field: "<archive>/data.pkl",
                              problem: "the archive holds several data.pkl members (\(candidates.joined(separator: ", ")))",
                              fix: "save one state dict per file with torch.save")
    }

    private static func checkByteOrder(_ archive: ZipArchive, prefix: String, mapping: CheckpointMapping) throws {
        guard let entry = archive.entry(named: prefix + "byteorder") else { return } // absent: little (torch < 1.?)
        let (offset, count) = try archive.storedData(entry)
        guard count <= 16, let raw = mapping.bytes(at: offset, count: count) else {
            throw ConversionError(.malformedTorchCheckpoint, file: archive.path, field: entry.name,
                                  problem: "the byteorder member is \(count) bytes", fix: "re-save the checkpoint with torch.save")
        }
        let value = String(decoding: raw, as: UTF8.self)
        guard value.trimmingWhitespace == "little" else {
            throw ConversionError(.malformedTorchCheckpoint, file: archive.path, field: entry.name,
                                  problem: "byte order is '\(value.trimmingWhitespace)'; only little-endian checkpoints are supported",
                                  fix: "re-save the checkpoint on a little-endian machine, or convert it to safetensors")
        }
    }

    // MARK: - The state dict

    /// The pickle's result must be a flat `{name: tensor}` dict, as `model.state_dict()` is.
    private static func stateDictEntries(_ root: PickleValue, path: String, member: String) throws -> [(String, PickleTensor)] {
        guard case .dict(let dict) = root else {
            throw ConversionError(.malformedTorchCheckpoint, file: path, field: member,
                                  problem: "the checkpoint holds a \(root.kind), not a state dict",
                                  fix: "save model.state_dict() with torch.save, or convert to safetensors")
        }
        var result: [(String, PickleTensor)] = []
        result.reserveCapacity(dict.keys.count)
        for (key, value) in zip(dict.keys, dict.values) {
            guard case .string(let name) = key else {
                throw ConversionError(.malformedTorchCheckpoint, file: path, field: "\(member) key \(key)",
                                      problem: "a state dict key is not a string",
                                      fix: "save model.state_dict() with torch.save, or convert to safetensors")
            }
            guard case .tensor(let tensor) = value else {
                throw ConversionError(.malformedTorchCheckpoint, file: path, field: "tensor '\(name)'",
                                      problem: "the entry is a \(value.kind), not a tensor (a training checkpoint rather than a state dict?)",
                                      fix: "extract the model's state_dict (e.g. ckpt['state_dict']) in Python and save that alone")
            }
            result.append((name, tensor))
        }
        return result
    }
}

/// Checks each tensor against its storage blob and computes where its bytes are.
private struct StorageResolver {
    let archive: ZipArchive
    let prefix: String
    let path: String

    func resolve(name: String, _ tensor: PickleTensor) throws -> (SourceTensor, Int) {
        let field = "tensor '\(name)'"
        func malformed(_ suffix: String, _ problem: String) -> ConversionError {
            ConversionError(.malformedTorchCheckpoint, file: path, field: field + suffix, problem: problem,
                            fix: "the checkpoint is corrupt; re-save it with torch.save(model.state_dict(), path) or convert it to safetensors")
        }
        let storage = tensor.storage
        guard let dtype = storage.dtype else {
            throw ConversionError(.unknownDType, file: path, field: field,
                                  problem: "dtype \(storage.torchDTypeName) (\(storage.typeName)) is not supported (supported: float32, float16, bfloat16)",
                                  fix: "cast the weights to float32/float16/bfloat16 (or drop non-weight buffers) before saving")
        }
        guard tensor.size.count == tensor.stride.count else {
            throw malformed(".stride", "\(tensor.stride.count) strides for \(tensor.size.count) dimensions")
        }
        guard let elementCount = checkedElementCount(tensor.size) else {
            throw malformed(".size", "size \(tensor.size) has a negative dimension or its element count overflows")
        }
        guard TorchTensorLayout.isContiguous(size: tensor.size, stride: tensor.stride) else {
            throw ConversionError(.malformedTorchCheckpoint, file: path, field: field + ".stride",
                                  problem: "size \(tensor.size) with stride \(tensor.stride) is not contiguous row-major",
                                  fix: "save {k: v.contiguous() for k, v in state_dict.items()} instead")
        }
        let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw malformed(".size", "\(elementCount) elements × \(dtype.byteSize) bytes overflows") }

        // The storage blob: its size must match the persistent id, and the view must fit in it.
        let blobName = prefix + "data/" + storage.key
        guard let entry = archive.entry(named: blobName) else {
            throw malformed(".storage", "its storage member \(blobName) is missing from the archive")
        }
        let (blobOffset, blobCount) = try archive.storedData(entry)
        let (expectedBlob, blobOverflow) = storage.elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !blobOverflow, expectedBlob == blobCount else {
            throw malformed(".storage", "storage \(storage.key) declares \(storage.elementCount) \(storage.torchDTypeName) elements but \(blobName) is \(blobCount) bytes")
        }
        let (end, endOverflow) = tensor.storageOffset.addingReportingOverflow(elementCount)
        guard tensor.storageOffset >= 0, !endOverflow, end <= storage.elementCount else {
            throw ConversionError(.offsetOutOfRange, file: path, field: field + ".storage_offset",
                                  problem: "elements \(tensor.storageOffset)..<\(tensor.storageOffset &+ elementCount) exceed storage \(storage.key)'s \(storage.elementCount) elements",
                                  fix: "the checkpoint is corrupt; re-save it with torch.save or convert it to safetensors")
        }
        // In bounds of the blob, so this cannot overflow.
        let offset = blobOffset + tensor.storageOffset * dtype.byteSize
        let source = SourceTensor(name: name, dtype: dtype, shape: tensor.size, elementCount: elementCount, byteCount: byteCount)
        return (source, offset)
    }
}

enum TorchTensorLayout {
    /// torch's rule: strides of size-1 dimensions are irrelevant, and an empty tensor is
    /// contiguous whatever its strides.
    static func isContiguous(size: [Int], stride: [Int]) -> Bool {
        guard size.count == stride.count else { return false }
        if size.contains(0) { return true }
        var expected = 1
        for dim in stride.indices.reversed() where size[dim] != 1 {
            guard stride[dim] == expected else { return false }
            let (next, overflow) = expected.multipliedReportingOverflow(by: size[dim])
            if overflow { return false }
            expected = next
        }
        return true
    }
}

private extension String {
    var trimmingWhitespace: String {
        String(self.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
