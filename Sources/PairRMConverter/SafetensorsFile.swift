import Foundation

/// A `model.safetensors` file: an 8-byte little-endian header length N, N bytes of JSON
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`, then the
/// data section that the offsets index into.
///
/// The header is validated completely at open time, so `readFloat32` cannot go out of bounds.
/// Duplicate tensor names: JSONSerialization keeps one of the duplicate keys silently, so a
/// header with a duplicated name is read as if the other entry were absent; the overlap and
/// bounds checks still hold for whatever entry is kept.
public final class SafetensorsFile: MappedCheckpoint {
    public let path: String
    public let tensors: [SourceTensor]
    /// The `__metadata__` string map (e.g. `{"format": "pt"}`); empty when absent.
    public let metadata: [String: String]

    /// The header allows 100 MB; PairRM's is ~40 kB. Bounding it keeps a corrupt length from
    /// making us parse gigabytes of tensor data as JSON.
    public static let maxHeaderBytes = 100_000_000

    let mapping: CheckpointMapping
    /// Each tensor with the absolute file offset of its first byte, by name.
    let index: [String: (tensor: SourceTensor, offset: Int)]

    public init(path: String) throws {
        self.path = path
        mapping = try CheckpointMapping(path: path)

        guard let lengthBytes = mapping.bytes(at: 0, count: 8) else {
            throw ConversionError(.malformedSafetensors, file: path, field: "header length (bytes 0..<8)",
                                  problem: "the file is \(mapping.size) bytes, shorter than the 8-byte header length",
                                  fix: "the download is truncated or this is not a safetensors file; download it again")
        }
        let headerLength = UInt64(littleEndian: lengthBytes.loadUnaligned(as: UInt64.self))
        guard headerLength > 0 else {
            throw ConversionError(.malformedSafetensors, file: path, field: "header length (bytes 0..<8)",
                                  problem: "the header length is 0",
                                  fix: "the file is corrupt or not a safetensors file; download it again")
        }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw ConversionError(.malformedSafetensors, file: path, field: "header length (bytes 0..<8)",
                                  problem: "the header length \(headerLength) exceeds the \(Self.maxHeaderBytes)-byte limit",
                                  fix: "the file is corrupt or not a safetensors file; download it again")
        }
        let headerCount = Int(headerLength)
        guard let headerBytes = mapping.bytes(at: 8, count: headerCount) else {
            throw ConversionError(.malformedSafetensors, file: path, field: "header length (bytes 0..<8)",
                                  problem: "the header claims \(headerCount) bytes but only \(mapping.size - 8) follow the length field",
                                  fix: "the file is truncated; download it again")
        }
        let dataStart = 8 + headerCount
        let dataSize = mapping.size - dataStart

        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(headerBytes), options: [])
        } catch {
            // Foundation puts the position and cause in the debug description.
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
            throw ConversionError(.malformedSafetensors, file: path, field: "header",
                                  problem: "the header is not valid JSON (\(detail))",
                                  fix: "the file is corrupt; download it again")
        }
        guard let entries = json as? [String: Any] else {
            throw ConversionError(.malformedSafetensors, file: path, field: "header",
                                  problem: "the header is JSON but not an object",
                                  fix: "the file is corrupt or not a safetensors file; download it again")
        }

        var metadata: [String: String] = [:]
        var parsed: [(tensor: SourceTensor, begin: Int, end: Int)] = []
        parsed.reserveCapacity(entries.count)
        for (name, value) in entries {
            if name == "__metadata__" {
                metadata = try Self.parseMetadata(value, path: path)
                continue
            }
            parsed.append(try Self.parseEntry(name: name, value: value, dataSize: dataSize, path: path))
        }

        // File order = data order. Equal begins only happen with empty tensors; the name keeps
        // the order deterministic.
        parsed.sort { ($0.begin, $0.end, $0.tensor.name) < ($1.begin, $1.end, $1.tensor.name) }
        var previous: (name: String, end: Int)?
        for entry in parsed where entry.end > entry.begin {
            if let previous, entry.begin < previous.end {
                throw ConversionError(.malformedSafetensors, file: path,
                                      field: "header.tensor '\(entry.tensor.name)'.data_offsets",
                                      problem: "bytes \(entry.begin)..<\(entry.end) overlap tensor '\(previous.name)' (ends at \(previous.end))",
                                      fix: "the header is corrupt; re-export the checkpoint with safetensors.torch.save_file")
            }
            previous = (entry.tensor.name, entry.end)
        }

        self.metadata = metadata
        tensors = parsed.map(\.tensor)
        var index: [String: (tensor: SourceTensor, offset: Int)] = [:]
        for entry in parsed { index[entry.tensor.name] = (entry.tensor, dataStart + entry.begin) }
        self.index = index
    }

    let tensorField = "header.tensor"

    // MARK: - Header entries

    private static func parseMetadata(_ value: Any, path: String) throws -> [String: String] {
        guard let object = value as? [String: Any] else {
            throw ConversionError(.malformedSafetensors, file: path, field: "header.__metadata__",
                                  problem: "__metadata__ is not a JSON object",
                                  fix: "the header is corrupt; re-export the checkpoint")
        }
        var result: [String: String] = [:]
        for (key, item) in object {
            guard let string = item as? String else {
                throw ConversionError(.malformedSafetensors, file: path, field: "header.__metadata__.\(key)",
                                      problem: "metadata values must be strings",
                                      fix: "the header is corrupt; re-export the checkpoint")
            }
            result[key] = string
        }
        return result
    }

    private static func parseEntry(name: String, value: Any, dataSize: Int, path: String) throws
        -> (tensor: SourceTensor, begin: Int, end: Int)
    {
        let field = "header.tensor '\(name)'"
        func malformed(_ suffix: String, _ problem: String) -> ConversionError {
            ConversionError(.malformedSafetensors, file: path, field: field + suffix, problem: problem,
                            fix: "the header is corrupt; re-export the checkpoint with safetensors.torch.save_file")
        }
        guard let object = value as? [String: Any] else {
            throw malformed("", "the tensor entry is not a JSON object")
        }

        guard let dtypeName = object["dtype"] as? String else {
            throw malformed(".dtype", "missing or not a string")
        }
        guard let dtype = SourceDType(rawValue: dtypeName) else {
            throw ConversionError(.unknownDType, file: path, field: field + ".dtype",
                                  problem: "dtype \(dtypeName) is not supported (supported: \(SourceDType.supportedList))",
                                  fix: "re-export the weights as float32, float16 or bfloat16")
        }

        guard let shapeArray = object["shape"] as? [Any] else {
            throw malformed(".shape", "missing or not an array")
        }
        var shape: [Int] = []
        shape.reserveCapacity(shapeArray.count)
        for (index, item) in shapeArray.enumerated() {
            guard let dim = jsonNonNegativeInteger(item) else {
                throw malformed(".shape[\(index)]", "\(item) is not a non-negative integer")
            }
            shape.append(dim)
        }
        guard let elementCount = checkedElementCount(shape) else {
            throw malformed(".shape", "the element count of \(shape) overflows")
        }
        let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else {
            throw malformed(".shape", "\(elementCount) elements × \(dtype.byteSize) bytes overflows")
        }

        guard let offsets = object["data_offsets"] as? [Any], offsets.count == 2,
              let begin = jsonNonNegativeInteger(offsets[0]), let end = jsonNonNegativeInteger(offsets[1]) else {
            throw malformed(".data_offsets", "not an array of two non-negative integers")
        }
        guard begin <= end else {
            throw malformed(".data_offsets", "begin \(begin) is after end \(end)")
        }
        guard end <= dataSize else {
            throw ConversionError(.offsetOutOfRange, file: path, field: field + ".data_offsets",
                                  problem: "end \(end) is beyond the \(dataSize)-byte data section",
                                  fix: "the file is truncated; download it again")
        }
        guard end - begin == byteCount else {
            throw ConversionError(.malformedSafetensors, file: path, field: field + ".data_offsets",
                                  problem: "\(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(byteCount)",
                                  fix: "the header is corrupt; re-export the checkpoint with safetensors.torch.save_file")
        }
        let tensor = SourceTensor(name: name, dtype: dtype, shape: shape, elementCount: elementCount, byteCount: byteCount)
        return (tensor, begin, end)
    }
}

/// A JSON integer in 0...Int.max. JSONSerialization hands back NSNumber for numbers and
/// booleans alike, so the stored C type is what tells `5` from `5.0` and `true`.
func jsonNonNegativeInteger(_ value: Any) -> Int? {
    guard let number = value as? NSNumber, !(number is NSDecimalNumber) else { return nil }
    switch String(cString: number.objCType) {
    case "c", "B", "f", "d":        // bool, float, double
        return nil
    case "C", "S", "I", "L", "Q":   // unsigned storage: may exceed Int.max
        let unsigned = number.uint64Value
        return unsigned <= UInt64(Int.max) ? Int(unsigned) : nil
    default:
        let signed = number.int64Value
        return signed >= 0 ? Int(exactly: signed) : nil
    }
}
