/// What a section holds (Formats/prm-v1.md §3.2).
public enum SectionKind: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case metadata = 1
    case vocabulary = 2
    case tensorDirectory = 3
    case tensorData = 4

    /// Kinds at or above this value may be skipped by readers that do not know them.
    public static let firstOptional: UInt32 = 0x8000

    public var description: String {
        switch self {
        case .metadata: "METADATA"
        case .vocabulary: "VOCABULARY"
        case .tensorDirectory: "TENSOR_DIRECTORY"
        case .tensorData: "TENSOR_DATA"
        }
    }
}

/// How a section's bytes are stored.
public enum Codec: UInt32, Sendable, CustomStringConvertible {
    case raw = 0
    case zstd = 1

    public var description: String { self == .raw ? "raw" : "zstd" }
}

/// One 48-byte record of the section table.
public struct SectionEntry: Equatable, Sendable {
    public static let size = 48
    /// Bound on a decoded section; also bounds what a zstd frame may claim to expand to.
    public static let maxDecodedSize: UInt64 = 1 << 40

    public var kindCode: UInt32
    public var codec: Codec
    public var offset: UInt64
    public var storedSize: UInt64
    public var decodedSize: UInt64
    public var checksum: UInt64

    public var kind: SectionKind? { SectionKind(rawValue: kindCode) }

    public var name: String { kind?.description ?? "section kind \(kindCode)" }

    public init(kind: SectionKind, codec: Codec, offset: UInt64, storedSize: UInt64, decodedSize: UInt64, checksum: UInt64) {
        self.kindCode = kind.rawValue
        self.codec = codec
        self.offset = offset
        self.storedSize = storedSize
        self.decodedSize = decodedSize
        self.checksum = checksum
    }

    func encode(into writer: inout ByteWriter) {
        writer.u32(kindCode)
        writer.u32(codec.rawValue)
        writer.u64(offset)
        writer.u64(storedSize)
        writer.u64(decodedSize)
        writer.u64(checksum)
        writer.u64(0)
    }

    /// Reads and validates the whole table: known kinds and codecs, each required kind once,
    /// payloads aligned, inside the file and not overlapping each other, the header or the table.
    static func decodeTable(_ bytes: UnsafeRawBufferPointer, header: FileHeader, file: String) throws -> [SectionEntry] {
        let computed = xxh64(bytes)
        guard computed == header.sectionTableChecksum else {
            throw FormatError(.checksumMismatch, file: file, field: "header.section_table_checksum",
                              problem: hex64(header.sectionTableChecksum) + " stored, "
                                  + hex64(computed) + " computed over the section table",
                              fix: reconvertFix)
        }
        var reader = ByteReader(bytes, file: file, context: "section_table")
        var entries: [SectionEntry] = []
        for index in 0..<Int(header.sectionCount) {
            let field = "[\(index)]"
            let kindCode = try reader.u32("\(field).kind")
            let codecCode = try reader.u32("\(field).codec")
            let offset = try reader.u64("\(field).offset")
            let stored = try reader.u64("\(field).stored_size")
            let decoded = try reader.u64("\(field).decoded_size")
            let checksum = try reader.u64("\(field).checksum")
            let reserved = try reader.u64("\(field).reserved")
            func fail(_ kind: FormatError.Kind, _ name: String, _ problem: String, fix: String = reconvertFix) -> FormatError {
                FormatError(kind, file: file, field: "section_table\(field).\(name)", problem: problem, fix: fix)
            }
            guard SectionKind(rawValue: kindCode) != nil || kindCode >= SectionKind.firstOptional else {
                throw fail(.unknownSection, "kind", "section kind \(kindCode) is not known to this reader",
                           fix: "upgrade pairrm, or re-convert the model with this version")
            }
            guard let codec = Codec(rawValue: codecCode) else {
                throw fail(.unknownCodec, "codec", "codec \(codecCode) is not known (0 raw, 1 zstd)",
                           fix: "upgrade pairrm, or re-convert the model with this version")
            }
            guard reserved == 0 else { throw fail(.malformed, "reserved", "is \(reserved), must be 0") }
            let (end, overflow) = offset.addingReportingOverflow(stored)
            guard !overflow, offset >= UInt64(FileHeader.size), end <= header.sectionTableOffset else {
                throw fail(.outOfRange, "offset", "payload \(offset)..<\(overflow ? UInt64.max : end) lies outside 64..<\(header.sectionTableOffset) (between header and section table)")
            }
            guard offset % UInt64(FileHeader.alignment) == 0 else {
                throw fail(.malformed, "offset", "\(offset) is not a multiple of 64")
            }
            guard decoded <= SectionEntry.maxDecodedSize else {
                throw fail(.outOfRange, "decoded_size", "\(decoded) bytes exceeds the limit \(SectionEntry.maxDecodedSize)")
            }
            switch codec {
            case .raw:
                guard decoded == stored else {
                    throw fail(.malformed, "decoded_size", "raw section has decoded_size \(decoded) ≠ stored_size \(stored)")
                }
            case .zstd:
                // zstd cannot expand data more than ~ a few thousand times, but no converter output comes
                // close to this bound: a bigger claim is a lie meant to make us allocate.
                let (bound, o) = stored.multipliedReportingOverflow(by: 64)
                guard !o, decoded <= bound + (1 << 20) else {
                    throw fail(.outOfRange, "decoded_size", "claims \(decoded) bytes from \(stored) compressed bytes")
                }
            }
            var entry = SectionEntry(kind: .metadata, codec: codec, offset: offset, storedSize: stored,
                                     decodedSize: decoded, checksum: checksum)
            entry.kindCode = kindCode
            entries.append(entry)
        }
        for kind in SectionKind.allCases {
            let count = entries.filter { $0.kindCode == kind.rawValue }.count
            guard count == 1 else {
                throw FormatError(count == 0 ? .missing : .malformed, file: file, field: "section_table",
                                  problem: "\(kind) section appears \(count) times, exactly once is required",
                                  fix: reconvertFix)
            }
        }
        let sorted = entries.sorted { $0.offset < $1.offset }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.offset + previous.storedSize > next.offset {
            throw FormatError(.overlap, file: file, field: "section_table",
                              problem: "\(previous.name) (\(previous.offset)+\(previous.storedSize)) overlaps \(next.name) at \(next.offset)",
                              fix: reconvertFix)
        }
        return entries
    }
}
