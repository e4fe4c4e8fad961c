/// The central directory of a ZIP archive held in a `CheckpointMapping`, enough to find the
/// STORED members of a PyTorch checkpoint. Handles zip64 (real checkpoints exceed 4 GB, and
/// torch writes the zip64 end records even for tiny files). Compression, encryption and
/// multi-disk archives are reported, not supported: torch.save never produces them.
struct ZipArchive {
    struct Entry {
        var name: String
        var flags: UInt16
        var method: UInt16
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    let path: String
    let entries: [Entry]
    private let byName: [String: Int]
    private let mapping: CheckpointMapping

    private static let endOfCentralDirectorySignature: UInt32 = 0x0605_4B50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    private static let zip64EndSignature: UInt32 = 0x0606_4B50
    private static let centralHeaderSignature: UInt32 = 0x0201_4B50
    private static let localHeaderSignature: UInt32 = 0x0403_4B50

    init(mapping: CheckpointMapping) throws {
        self.mapping = mapping
        path = mapping.path
        let reader = MappedReader(mapping: mapping)

        let eocd = try Self.findEndOfCentralDirectory(reader)
        func fail(_ field: String, _ problem: String) -> ConversionError {
            ConversionError(.malformedTorchCheckpoint, file: mapping.path, field: field, problem: problem,
                            fix: "the archive is corrupt or truncated; download or re-save the checkpoint")
        }
        let disk = reader.u16(eocd + 4), directoryDisk = reader.u16(eocd + 6)
        var entryCount = Int(reader.u16(eocd + 10) ?? 0)
        var directorySize = Int(reader.u32(eocd + 12) ?? 0)
        var directoryOffset = Int(reader.u32(eocd + 16) ?? 0)
        guard disk == 0, directoryDisk == 0 else {
            throw fail("zip end of central directory", "multi-disk (split) archives are not supported")
        }

        // zip64: the locator sits right before the classic record; its values replace the
        // 16/32-bit ones, which are saturated (0xFFFF...) whenever they do not fit.
        if eocd >= 20, reader.u32(eocd - 20) == Self.zip64LocatorSignature {
            guard let recordOffset = reader.u64AsInt(eocd - 20 + 8) else {
                throw fail("zip64 end of central directory locator", "the record offset does not fit in a 64-bit signed integer")
            }
            guard reader.u32(recordOffset) == Self.zip64EndSignature,
                  let count = reader.u64AsInt(recordOffset + 32),
                  let size = reader.u64AsInt(recordOffset + 40),
                  let offset = reader.u64AsInt(recordOffset + 48) else {
                throw fail("zip64 end of central directory (byte \(recordOffset))", "missing or truncated zip64 end record")
            }
            entryCount = count
            directorySize = size
            directoryOffset = offset
        }

        guard reader.range(directoryOffset, directorySize) else {
            throw fail("zip central directory", "bytes \(directoryOffset)+\(directorySize) lie outside the \(mapping.size)-byte file")
        }
        // Every central header is at least 46 bytes: bounds the loop before reading anything.
        guard entryCount <= directorySize / 46 else {
            throw fail("zip central directory", "\(entryCount) entries cannot fit in \(directorySize) bytes")
        }

        var entries: [Entry] = []
        entries.reserveCapacity(entryCount)
        var byName: [String: Int] = [:]
        var cursor = directoryOffset
        let directoryEnd = directoryOffset + directorySize
        for index in 0..<entryCount {
            let field = "zip central directory entry \(index) (byte \(cursor))"
            guard cursor + 46 <= directoryEnd, reader.u32(cursor) == Self.centralHeaderSignature,
                  let flags = reader.u16(cursor + 8), let method = reader.u16(cursor + 10),
                  let compressed32 = reader.u32(cursor + 20), let uncompressed32 = reader.u32(cursor + 24),
                  let nameLength = reader.u16(cursor + 28), let extraLength = reader.u16(cursor + 30),
                  let commentLength = reader.u16(cursor + 32), let offset32 = reader.u32(cursor + 42) else {
                throw fail(field, "missing or truncated central directory header")
            }
            let headerEnd = cursor + 46 + Int(nameLength) + Int(extraLength) + Int(commentLength)
            guard headerEnd <= directoryEnd, let nameBytes = reader.bytes(cursor + 46, Int(nameLength)) else {
                throw fail(field, "the header's name/extra/comment run past the central directory")
            }
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw fail(field, "the member name is not valid UTF-8")
            }
            var compressed = Int(compressed32), uncompressed = Int(uncompressed32), offset = Int(offset32)
            try Self.applyZip64Extra(reader, at: cursor + 46 + Int(nameLength), length: Int(extraLength),
                                     uncompressed: &uncompressed, compressed: &compressed, offset: &offset,
                                     saturated: (uncompressed32 == .max, compressed32 == .max, offset32 == .max),
                                     fail: { fail(field + " '\(name)'", $0) })
            guard byName[name] == nil else {
                throw fail(field, "member '\(name)' appears twice")
            }
            byName[name] = entries.count
            entries.append(Entry(name: name, flags: flags, method: method, compressedSize: compressed,
                                 uncompressedSize: uncompressed, localHeaderOffset: offset))
            cursor = headerEnd
        }
        try Self.checkLocalHeaders(reader, entries: entries, directory: directoryOffset..<directoryEnd, fail: fail)
        self.entries = entries
        self.byName = byName
    }

    func entry(named name: String) -> Entry? {
        byName[name].map { entries[$0] }
    }

    /// The file byte range of a STORED member's data, after checking its local header.
    /// (torch writes sizes only in the central directory — local headers have the
    /// data-descriptor flag and zero sizes — and pads the local extra field so data is
    /// 64-byte aligned, which is why the local header must be read for the data offset.)
    func storedData(_ entry: Entry) throws -> (offset: Int, count: Int) {
        let field = "zip member '\(entry.name)'"
        guard entry.flags & 0x1 == 0 else {
            throw ConversionError(.malformedTorchCheckpoint, file: path, field: field,
                                  problem: "the member is encrypted",
                                  fix: "re-save the checkpoint with torch.save without encryption")
        }
        guard entry.method == 0 else {
            throw ConversionError(.malformedTorchCheckpoint, file: path, field: field,
                                  problem: "the member is compressed (method \(entry.method)); only STORED members can be streamed",
                                  fix: "re-save with torch.save(state_dict, path, _use_new_zipfile_serialization=True) without re-zipping, or convert to safetensors")
        }
        guard entry.compressedSize == entry.uncompressedSize else {
            throw ConversionError(.malformedTorchCheckpoint, file: path, field: field,
                                  problem: "a STORED member with compressed size \(entry.compressedSize) ≠ size \(entry.uncompressedSize)",
                                  fix: "the archive is corrupt; download or re-save the checkpoint")
        }
        let reader = MappedReader(mapping: mapping)
        let local = entry.localHeaderOffset
        guard reader.u32(local) == Self.localHeaderSignature,
              let nameLength = reader.u16(local + 26), let extraLength = reader.u16(local + 28) else {
            throw ConversionError(.malformedTorchCheckpoint, file: path, field: field + " local header (byte \(local))",
                                  problem: "missing or truncated local file header",
                                  fix: "the archive is corrupt or truncated; download or re-save the checkpoint")
        }
        let dataOffset = local + 30 + Int(nameLength) + Int(extraLength)
        guard reader.range(dataOffset, entry.compressedSize) else {
            throw ConversionError(.offsetOutOfRange, file: path, field: field,
                                  problem: "its \(entry.compressedSize) data bytes at \(dataOffset) run past the \(mapping.size)-byte file",
                                  fix: "the archive is truncated; download or re-save the checkpoint")
        }
        return (dataOffset, entry.compressedSize)
    }

    // MARK: - Parsing helpers

    /// Each central-directory entry must point at a local header carrying the same name, and no
    /// two members (local header + data) may overlap each other or the central directory: an
    /// archive whose directory points several names at one local header would otherwise make
    /// those tensors silently share bytes. (Python's zipfile compares the names the same way.)
    /// Members whose data runs past the file are left to `storedData`, which names the offset.
    private static func checkLocalHeaders(_ reader: MappedReader, entries: [Entry], directory: Range<Int>,
                                          fail: (String, String) -> ConversionError) throws {
        var spans: [(range: Range<Int>, what: String)] = [(directory, "the central directory")]
        for (index, entry) in entries.enumerated() {
            let local = entry.localHeaderOffset
            let field = "zip central directory entry \(index) '\(entry.name)'"
            guard reader.u32(local) == localHeaderSignature,
                  let nameLength = reader.u16(local + 26), let extraLength = reader.u16(local + 28),
                  let localName = reader.bytes(local + 30, Int(nameLength)) else {
                throw fail(field + " local header (byte \(local))", "missing or truncated local file header")
            }
            guard localName.elementsEqual(entry.name.utf8) else {
                throw fail(field + " local header (byte \(local))",
                           "the central directory names '\(entry.name)' but the local header there names '\(String(decoding: localName, as: UTF8.self))' (several entries pointing at one member?)")
            }
            let dataOffset = local + 30 + Int(nameLength) + Int(extraLength)
            let (end, overflow) = dataOffset.addingReportingOverflow(entry.compressedSize)
            guard !overflow, reader.range(dataOffset, entry.compressedSize) else { continue }
            spans.append((local..<end, "member '\(entry.name)'"))
        }
        spans.sort { $0.range.lowerBound < $1.range.lowerBound }
        for (previous, next) in zip(spans, spans.dropFirst()) where next.range.lowerBound < previous.range.upperBound {
            throw fail("zip \(next.what) (bytes \(next.range.lowerBound)..<\(next.range.upperBound))",
                       "overlaps \(previous.what) (bytes \(previous.range.lowerBound)..<\(previous.range.upperBound)); members of an archive never share bytes")
        }
    }

    /// The classic end record is the last 22 bytes plus a comment of up to 65535 bytes.
    private static func findEndOfCentralDirectory(_ reader: MappedReader) throws -> Int {
        let size = reader.mapping.size
        if size >= 22 {
            let lowest = max(0, size - 22 - 65535)
            var position = size - 22
            while position >= lowest {
                if reader.u32(position) == endOfCentralDirectorySignature { return position }
                position -= 1
            }
        }
        throw ConversionError(.malformedTorchCheckpoint, file: reader.mapping.path, field: "zip end of central directory",
                              problem: "not a ZIP archive (no end-of-central-directory record)",
                              fix: "the file is truncated or not a PyTorch checkpoint; download it again or convert it to safetensors")
    }

    /// The zip64 extra field (id 1) lists, in this order, only the values saturated in the
    /// fixed header: uncompressed size, compressed size, local header offset.
    private static func applyZip64Extra(_ reader: MappedReader, at start: Int, length: Int,
                                        uncompressed: inout Int, compressed: inout Int, offset: inout Int,
                                        saturated: (uncompressed: Bool, compressed: Bool, offset: Bool),
                                        fail: (String) -> ConversionError) throws {
        var cursor = start
        let end = start + length
        var found = false
        while cursor + 4 <= end, let id = reader.u16(cursor), let size = reader.u16(cursor + 2) {
            let body = cursor + 4
            guard body + Int(size) <= end else { throw fail("an extra field runs past the header") }
            if id == 1 {
                found = true
                var field = body
                func next() throws -> Int {
                    guard field + 8 <= body + Int(size), let value = reader.u64AsInt(field) else {
                        throw fail("truncated or out-of-range zip64 extra field")
                    }
                    field += 8
                    return value
                }
                if saturated.uncompressed { uncompressed = try next() }
                if saturated.compressed { compressed = try next() }
                if saturated.offset { offset = try next() }
            }
            cursor = body + Int(size)
        }
        if !found, saturated.uncompressed || saturated.compressed || saturated.offset {
            throw fail("sizes are saturated (0xFFFFFFFF) but there is no zip64 extra field")
        }
    }
}

/// Bounds-checked little-endian loads from a mapping: every read returns nil outside the file.
struct MappedReader {
    let mapping: CheckpointMapping

    func range(_ offset: Int, _ count: Int) -> Bool {
        mapping.bytes(at: offset, count: count) != nil
    }

    func bytes(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer? {
        mapping.bytes(at: offset, count: count)
    }

    func u16(_ offset: Int) -> UInt16? {
        guard let b = mapping.bytes(at: offset, count: 2) else { return nil }
        return UInt16(littleEndian: b.loadUnaligned(as: UInt16.self))
    }

    func u32(_ offset: Int) -> UInt32? {
        guard let b = mapping.bytes(at: offset, count: 4) else { return nil }
        return UInt32(littleEndian: b.loadUnaligned(as: UInt32.self))
    }

    /// A 64-bit field as Int, nil if absent or above Int.max.
    func u64AsInt(_ offset: Int) -> Int? {
        guard let b = mapping.bytes(at: offset, count: 8) else { return nil }
        return Int(exactly: UInt64(littleEndian: b.loadUnaligned(as: UInt64.self)))
    }
}
