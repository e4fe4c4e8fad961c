/// One tensor of the container: where its bytes are and how to read them (Formats/prm-v1.md §5).
public struct TensorInfo: Equatable, Sendable {
    public var name: String
    public var dtype: DType
    /// Logical shape in PyTorch order ([out, in] for a Linear weight).
    public var shape: [Int]
    /// Byte offset inside the decoded TENSOR_DATA section; a multiple of 64.
    public var offset: Int
    public var size: Int
    public var checksum: UInt64

    public init(name: String, dtype: DType, shape: [Int], offset: Int, size: Int, checksum: UInt64) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.offset = offset
        self.size = size
        self.checksum = checksum
    }

    public var elementCount: Int { shape.reduce(1, *) }
}

public enum TensorDirectory {
    public static let maxTensors = 65_536
    public static let maxNameLength = 1_024
    public static let maxRank = 4
    public static let maxDimension = 1 << 32

    public static func encode(_ tensors: [TensorInfo]) -> [UInt8] {
        var writer = ByteWriter()
        writer.u64(UInt64(tensors.count))
        for tensor in tensors {
            let name = Array(tensor.name.utf8)
            writer.u16(UInt16(name.count))
            writer.append(name)
            writer.u16(tensor.dtype.rawValue)
            writer.u8(UInt8(tensor.shape.count))
            writer.u8(0)
            for dimension in tensor.shape { writer.u64(UInt64(dimension)) }
            writer.u64(UInt64(tensor.offset))
            writer.u64(UInt64(tensor.size))
            writer.u64(tensor.checksum)
        }
        return writer.bytes
    }

    /// Parses and validates the directory against the decoded size of the tensor-data section.
    public static func decode(_ bytes: UnsafeRawBufferPointer, dataSize: Int, file: String) throws -> [TensorInfo] {
        var reader = ByteReader(bytes, file: file, context: "TENSOR_DIRECTORY")
        let count = try reader.count("count", limit: UInt64(maxTensors))
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(count)
        var names = Set<String>()
        var previousEnd = 0
        for index in 0..<count {
            let nameLength = Int(try reader.u16("[\(index)].name_length"))
            guard nameLength > 0, nameLength <= maxNameLength else {
                throw reader.fail(.outOfRange, "[\(index)].name_length", "\(nameLength) is outside 1…\(maxNameLength)")
            }
            let name = try reader.utf8(nameLength, "[\(index)].name")
            let field = "'\(name)'"
            guard names.insert(name).inserted else {
                throw reader.fail(.malformed, field, "tensor name appears twice")
            }
            let dtypeCode = try reader.u16("\(field).dtype")
            guard let dtype = DType(rawValue: dtypeCode) else {
                throw reader.fail(.unknownDType, "\(field).dtype", "dtype code \(dtypeCode) is not known to this reader",
                                  fix: "upgrade pairrm, or re-convert the model with --weights f32|f16|q8|q4 using this version")
            }
            let rank = Int(try reader.u8("\(field).rank"))
            guard rank >= 1, rank <= maxRank else {
                throw reader.fail(.outOfRange, "\(field).rank", "rank \(rank) is outside 1…\(maxRank)")
            }
            _ = try reader.u8("\(field).reserved")
            var shape: [Int] = []
            for axis in 0..<rank {
                let dimension = try reader.u64("\(field).shape[\(axis)]")
                guard dimension <= UInt64(maxDimension) else {
                    throw reader.fail(.outOfRange, "\(field).shape[\(axis)]", "dimension \(dimension) exceeds \(maxDimension)")
                }
                shape.append(Int(dimension))
            }
            let offset = try reader.count("\(field).offset", limit: UInt64(dataSize))
            let size = try reader.count("\(field).size", limit: UInt64(dataSize))
            let checksum = try reader.u64("\(field).checksum")
            guard let expected = dtype.byteSize(shape: shape) else {
                throw reader.fail(.overflow, "\(field).shape", "shape \(shape) does not fit dtype \(dtype) (size overflows or wrong rank)")
            }
            guard expected == size else {
                throw reader.fail(.malformed, "\(field).size", "is \(size) bytes but \(dtype) \(shape) needs \(expected)")
            }
            guard offset % FileHeader.alignment == 0 else {
                throw reader.fail(.malformed, "\(field).offset", "\(offset) is not a multiple of 64")
            }
            guard offset <= dataSize - size else {
                throw reader.fail(.outOfRange, "\(field).offset", "bytes \(offset)..<\(offset + size) run past the \(dataSize)-byte tensor data")
            }
            guard offset >= previousEnd else {
                throw reader.fail(.overlap, "\(field).offset", "starts at \(offset), before the previous tensor ends at \(previousEnd)")
            }
            previousEnd = offset + size
            tensors.append(TensorInfo(name: name, dtype: dtype, shape: shape, offset: offset, size: size, checksum: checksum))
        }
        guard reader.isAtEnd else {
            throw reader.fail(.malformed, "end", "\(reader.remaining) bytes follow the last tensor entry")
        }
        return tensors
    }
}
