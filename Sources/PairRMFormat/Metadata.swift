/// One typed metadata value (Formats/prm-v1.md §4).
public enum MetadataValue: Equatable, Sendable, CustomStringConvertible {
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    /// Elements share one scalar type; arrays of arrays do not exist.
    case array([MetadataValue])

    enum TypeCode: UInt32 {
        case bool = 1, int64 = 2, float64 = 3, string = 4, array = 5
    }

    var typeCode: TypeCode {
        switch self {
        case .bool: .bool
        case .int: .int64
        case .double: .float64
        case .string: .string
        case .array: .array
        }
    }

    public var description: String {
        switch self {
        case .bool(let value): String(value)
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .string(let value): "\"\(value)\""
        case .array(let values): "[" + values.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// The container's key/value metadata. Keys are kept sorted so files are byte-reproducible.
public struct Metadata: Equatable, Sendable {
    public private(set) var entries: [(key: String, value: MetadataValue)] = []

    public static let maxEntries = 65_536
    public static let maxKeyLength = 256
    public static let maxStringLength = 16 << 20
    public static let maxArrayCount = 16 << 20

    public init() {}

    public init(_ pairs: [String: MetadataValue]) {
        for (key, value) in pairs { self[key] = value }
    }

    public static func == (lhs: Metadata, rhs: Metadata) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public var keys: [String] { entries.map(\.key) }

    public subscript(key: String) -> MetadataValue? {
        get {
            guard let index = index(of: key) else { return nil }
            return entries[index].value
        }
        set {
            let position = insertionPoint(of: key)
            if position < entries.count, entries[position].key == key {
                if let newValue { entries[position].value = newValue } else { entries.remove(at: position) }
            } else if let newValue {
                entries.insert((key, newValue), at: position)
            }
        }
    }

    private func insertionPoint(of key: String) -> Int {
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if Array(entries[mid].key.utf8).lexicographicallyPrecedes(Array(key.utf8)) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private func index(of key: String) -> Int? {
        let position = insertionPoint(of: key)
        return position < entries.count && entries[position].key == key ? position : nil
    }

    public func int(_ key: String) -> Int64? {
        if case .int(let value)? = self[key] { return value }
        return nil
    }

    public func double(_ key: String) -> Double? {
        if case .double(let value)? = self[key] { return value }
        return nil
    }

    public func bool(_ key: String) -> Bool? {
        if case .bool(let value)? = self[key] { return value }
        return nil
    }

    public func string(_ key: String) -> String? {
        if case .string(let value)? = self[key] { return value }
        return nil
    }

    public func strings(_ key: String) -> [String]? {
        guard case .array(let values)? = self[key] else { return nil }
        var result: [String] = []
        for value in values {
            guard case .string(let text) = value else { return nil }
            result.append(text)
        }
        return result
    }

    static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= maxKeyLength && key.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F || byte == 0x2E
        }
    }

    // MARK: Encoding

    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.u64(UInt64(entries.count))
        for (key, value) in entries {
            precondition(Metadata.isValidKey(key), "metadata key \(key) must be [a-z0-9_.]")
            let keyBytes = Array(key.utf8)
            writer.u32(UInt32(keyBytes.count))
            writer.append(keyBytes)
            writer.u32(value.typeCode.rawValue)
            Metadata.encodeValue(value, into: &writer)
        }
        return writer.bytes
    }

    private static func encodeValue(_ value: MetadataValue, into writer: inout ByteWriter) {
        switch value {
        case .bool(let flag): writer.u8(flag ? 1 : 0)
        case .int(let number): writer.i64(number)
        case .double(let number): writer.f64(number)
        case .string(let text):
            let bytes = Array(text.utf8)
            writer.u32(UInt32(bytes.count))
            writer.append(bytes)
        case .array(let values):
            let elementType = values.first?.typeCode ?? .string
            precondition(elementType != .array && values.allSatisfy { $0.typeCode == elementType },
                         "metadata arrays hold one scalar type")
            writer.u32(elementType.rawValue)
            writer.u64(UInt64(values.count))
            for element in values { encodeValue(element, into: &writer) }
        }
    }

    // MARK: Decoding

    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws -> Metadata {
        var reader = ByteReader(bytes, file: file, context: "METADATA")
        let count = try reader.count("count", limit: UInt64(maxEntries))
        var metadata = Metadata()
        var previousKey: [UInt8]? = nil
        for index in 0..<count {
            let keyLength = Int(try reader.u32("entries[\(index)].key_length"))
            guard keyLength <= maxKeyLength else {
                throw reader.fail(.outOfRange, "entries[\(index)].key_length", "\(keyLength) exceeds \(maxKeyLength)")
            }
            let key = try reader.utf8(keyLength, "entries[\(index)].key")
            guard isValidKey(key) else {
                throw reader.fail(.malformed, "entries[\(index)].key", "key \"\(key)\" is not [a-z0-9_.]")
            }
            let keyBytes = Array(key.utf8)
            if let previousKey, !previousKey.lexicographicallyPrecedes(keyBytes) {
                throw reader.fail(.malformed, "entries[\(index)].key", "key \"\(key)\" is out of order or repeated")
            }
            previousKey = keyBytes
            let typeRaw = try reader.u32("\(key).type")
            guard let type = MetadataValue.TypeCode(rawValue: typeRaw) else {
                throw reader.fail(.malformed, "\(key).type", "unknown value type \(typeRaw)")
            }
            let value = try decodeValue(type, key: key, reader: &reader, allowArray: true)
            metadata.entries.append((key, value))
        }
        guard reader.isAtEnd else {
            throw reader.fail(.malformed, "end", "\(reader.remaining) bytes follow the last entry")
        }
        return metadata
    }

    private static func decodeValue(_ type: MetadataValue.TypeCode, key: String, reader: inout ByteReader,
                                    allowArray: Bool) throws -> MetadataValue {
        switch type {
        case .bool:
            let byte = try reader.u8(key)
            guard byte <= 1 else { throw reader.fail(.malformed, key, "boolean byte is \(byte), not 0 or 1") }
            return .bool(byte == 1)
        case .int64: return .int(try reader.i64(key))
        case .float64: return .double(try reader.f64(key))
        case .string:
            let length = Int(try reader.u32("\(key).length"))
            guard length <= maxStringLength else {
                throw reader.fail(.outOfRange, "\(key).length", "string of \(length) bytes exceeds \(maxStringLength)")
            }
            return .string(try reader.utf8(length, key))
        case .array:
            guard allowArray else { throw reader.fail(.malformed, key, "arrays of arrays are not allowed") }
            let elementRaw = try reader.u32("\(key).element_type")
            guard let elementType = MetadataValue.TypeCode(rawValue: elementRaw), elementType != .array else {
                throw reader.fail(.malformed, "\(key).element_type", "element type \(elementRaw) is not a scalar type")
            }
            let count = try reader.count("\(key).count", limit: UInt64(maxArrayCount))
            // Every element takes at least one byte: a count larger than what is left is a lie.
            guard count <= reader.remaining else {
                throw reader.fail(.truncated, "\(key).count", "\(count) elements cannot fit in \(reader.remaining) bytes")
            }
            var values: [MetadataValue] = []
            values.reserveCapacity(count)
            for index in 0..<count {
                values.append(try decodeValue(elementType, key: "\(key)[\(index)]", reader: &reader, allowArray: false))
            }
            return .array(values)
        }
    }
}
