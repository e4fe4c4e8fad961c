/// The fixed 64-byte header at offset 0 (Formats/prm-v1.md §3.1).
public struct FileHeader: Equatable, Sendable {
    public static let magic: [UInt8] = [0x50, 0x52, 0x4D, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]  // "PRMF\r\n\x1a\n"
    public static let currentVersion: UInt32 = 1
    public static let size = 64
    public static let alignment = 64
    public static let maxSections = 64

    public var version: UInt32 = FileHeader.currentVersion
    public var fileSize: UInt64
    public var sectionTableOffset: UInt64
    public var sectionCount: UInt32
    public var sectionTableChecksum: UInt64

    public init(fileSize: UInt64, sectionTableOffset: UInt64, sectionCount: UInt32, sectionTableChecksum: UInt64) {
        self.fileSize = fileSize
        self.sectionTableOffset = sectionTableOffset
        self.sectionCount = sectionCount
        self.sectionTableChecksum = sectionTableChecksum
    }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.append(FileHeader.magic)
        writer.u32(version)
        writer.u32(UInt32(FileHeader.size))
        writer.u64(fileSize)
        writer.u64(sectionTableOffset)
        writer.u32(sectionCount)
        writer.u32(UInt32(SectionEntry.size))
        writer.u64(sectionTableChecksum)
        writer.u32(UInt32(FileHeader.alignment))
        writer.u32(0)
        let checksum = xxh64(writer.bytes)
        writer.u64(checksum)
        return writer.bytes
    }

    /// Parses and checks the header against the actual length of the file.
    public static func decode(_ bytes: UnsafeRawBufferPointer, actualFileSize: Int, file: String) throws -> FileHeader {
        func error(_ kind: FormatError.Kind, _ field: String, _ problem: String, fix: String = reconvertFix) -> FormatError {
            FormatError(kind, file: file, field: "header.\(field)", problem: problem, fix: fix)
        }
        guard bytes.count >= 8, Array(bytes[0..<8]) == magic else {
            throw error(.badMagic, "magic", "the file does not start with the .prm magic \"PRMF\\r\\n\\x1a\\n\"",
                        fix: "this is not a PairRM-Swift model; make one with `pairrm convert <checkpoint-dir> -o model.prm`")
        }
        guard bytes.count >= size else {
            throw error(.truncated, "size", "the file is \(bytes.count) bytes, shorter than the 64-byte header")
        }
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[0..<size]), file: file, context: "header")
        try reader.skip(8, "magic")
        let version = try reader.u32("version")
        guard version == currentVersion else {
            throw error(.unsupportedVersion, "version",
                        "structural version \(version) is not supported (this reader knows version \(currentVersion))",
                        fix: version > currentVersion ? "upgrade pairrm to read this file, or re-convert with this version"
                                                      : reconvertFix)
        }
        let headerSize = try reader.u32("header_size")
        guard headerSize == UInt32(size) else {
            throw error(.malformed, "header_size", "is \(headerSize), version 1 requires 64")
        }
        let fileSize = try reader.u64("file_size")
        let tableOffset = try reader.u64("section_table_offset")
        let sectionCount = try reader.u32("section_count")
        let entrySize = try reader.u32("section_entry_size")
        let tableChecksum = try reader.u64("section_table_checksum")
        let alignment = try reader.u32("alignment")
        let flags = try reader.u32("flags")
        let storedChecksum = try reader.u64("header_checksum")
        let computed = xxh64(UnsafeRawBufferPointer(rebasing: bytes[0..<56]))
        guard storedChecksum == computed else {
            throw error(.checksumMismatch, "header_checksum",
                        hex64(storedChecksum) + " stored, " + hex64(computed) + " computed")
        }
        guard fileSize == UInt64(actualFileSize) else {
            if fileSize > UInt64(actualFileSize) {
                throw error(.truncated, "file_size",
                            "the header says \(fileSize) bytes but the file has \(actualFileSize): it was cut short",
                            fix: "copy the file again completely, or re-run `pairrm convert`")
            }
            throw error(.malformed, "file_size", "the header says \(fileSize) bytes but the file has \(actualFileSize)")
        }
        guard entrySize == UInt32(SectionEntry.size) else {
            throw error(.malformed, "section_entry_size", "is \(entrySize), version 1 requires \(SectionEntry.size)")
        }
        guard alignment == UInt32(FileHeader.alignment) else {
            throw error(.malformed, "alignment", "is \(alignment), version 1 requires 64")
        }
        guard flags == 0 else { throw error(.malformed, "flags", "reserved flags are \(flags), must be 0") }
        guard sectionCount >= 1, sectionCount <= UInt32(maxSections) else {
            throw error(.outOfRange, "section_count", "\(sectionCount) is outside 1…\(maxSections)")
        }
        let tableBytes = UInt64(sectionCount) * UInt64(SectionEntry.size)
        let (tableEnd, overflow) = tableOffset.addingReportingOverflow(tableBytes)
        guard !overflow, tableOffset >= UInt64(size), tableOffset % UInt64(alignment) == 0, tableEnd <= fileSize else {
            throw error(.outOfRange, "section_table_offset",
                        "table at \(tableOffset) with \(tableBytes) bytes does not fit in the \(fileSize)-byte file")
        }
        var header = FileHeader(fileSize: fileSize, sectionTableOffset: tableOffset, sectionCount: sectionCount,
                                sectionTableChecksum: tableChecksum)
        header.version = version
        return header
    }
}

/// A checksum as 0x + 16 hex digits.
func hex64(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 16 - digits.count)) + digits
}
