/// Bounds-checked little-endian reads over borrowed bytes. Every read names the field it is
/// reading, so a short or lying buffer turns into a precise `FormatError` instead of a crash.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var position: Int
    let file: String
    let context: String

    public init(_ bytes: UnsafeRawBufferPointer, file: String, context: String) {
        self.bytes = bytes
        self.position = 0
        self.file = file
        self.context = context
    }

    public var remaining: Int { bytes.count - position }
    public var isAtEnd: Bool { position == bytes.count }

    func fail(_ kind: FormatError.Kind, _ field: String, _ problem: String, fix: String = reconvertFix) -> FormatError {
        FormatError(kind, file: file, field: "\(context).\(field)", problem: problem, fix: fix)
    }

    mutating func need(_ count: Int, _ field: String) throws {
        guard count >= 0, count <= remaining else {
            throw fail(.truncated, field, "needs \(count) bytes at offset \(position) but only \(remaining) remain")
        }
    }

    public mutating func u8(_ field: String) throws -> UInt8 {
        try need(1, field)
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func u16(_ field: String) throws -> UInt16 {
        try need(2, field)
        defer { position += 2 }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt16.self))
    }

    public mutating func u32(_ field: String) throws -> UInt32 {
        try need(4, field)
        defer { position += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    public mutating func u64(_ field: String) throws -> UInt64 {
        try need(8, field)
        defer { position += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    public mutating func i64(_ field: String) throws -> Int64 {
        Int64(bitPattern: try u64(field))
    }

    public mutating func f64(_ field: String) throws -> Double {
        Double(bitPattern: try u64(field))
    }

    /// A u64 that must fit in `Int` and not exceed `limit` (sizes, counts, offsets).
    public mutating func count(_ field: String, limit: UInt64) throws -> Int {
        let value = try u64(field)
        guard value <= limit else {
            throw fail(.outOfRange, field, "value \(value) exceeds the limit \(limit)")
        }
        return Int(value)
    }

    public mutating func bytes(_ count: Int, _ field: String) throws -> UnsafeRawBufferPointer {
        try need(count, field)
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    public mutating func utf8(_ count: Int, _ field: String) throws -> String {
        let raw = try bytes(count, field)
        guard let text = String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw fail(.malformed, field, "is not valid UTF-8")
        }
        return text
    }

    public mutating func skip(_ count: Int, _ field: String) throws {
        try need(count, field)
        position += count
    }

    public mutating func align(to alignment: Int, _ field: String) throws {
        let misalignment = position % alignment
        if misalignment != 0 { try skip(alignment - misalignment, field) }
    }
}

/// Appends little-endian values to a growing byte array (small structures: tables, metadata).
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public var count: Int { bytes.count }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }
    public mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value)) }
    public mutating func f32(_ value: Float) { u32(value.bitPattern) }
    public mutating func f64(_ value: Double) { u64(value.bitPattern) }
    public mutating func append<C: Collection>(_ data: C) where C.Element == UInt8 { bytes.append(contentsOf: data) }
    public mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }
    public mutating func pad(to alignment: Int) {
        let misalignment = bytes.count % alignment
        if misalignment != 0 { zeros(alignment - misalignment) }
    }
    /// Overwrites bytes already written (header patching).
    public mutating func patchU64(at offset: Int, _ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for i in 0..<8 { bytes[offset + i] = raw[i] }
        }
    }
}

/// `(x + a - 1) / a * a` with overflow reported instead of trapping.
@inlinable
public func alignUp(_ value: Int, _ alignment: Int) -> Int? {
    let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
    if overflow { return nil }
    return sum / alignment * alignment
}
