/// Options for opening a `.prm` file.
public struct LoadOptions: Sendable {
    /// Also check the tensor-data section and every tensor checksum while loading (reads the whole
    /// file once; pages are released after hashing). `pairrm verify` does the same on demand.
    public var verifyTensors: Bool = false
    /// Read the whole file into memory instead of mapping it (llama.cpp's `--no-mmap`): costs the
    /// file's size in RAM and a read at load, but a file truncated or rewritten in place while the
    /// model is loaded can no longer crash the process (a mapped file that shrinks raises SIGBUS
    /// on the next access; replacing it by rename is safe either way).
    public var readIntoMemory: Bool = false

    public init(verifyTensors: Bool = false, readIntoMemory: Bool = false) {
        self.verifyTensors = verifyTensors
        self.readIntoMemory = readIntoMemory
    }
}

/// An opened `.prm` container: validated structure, metadata, tensor directory and vocabulary,
/// with tensor bytes served straight from the mapping (RAW) or from one decompressed buffer (ZSTD).
/// Immutable after `init`, so one instance may be shared by any number of threads.
public final class ModelFile: @unchecked Sendable {
    public let path: String
    public let header: FileHeader
    public let sections: [SectionEntry]
    public let metadata: Metadata
    public let tensors: [TensorInfo]
    public let vocabulary: VocabularyView
    /// True when tensors are read in place from the mapped file (RAW tensor section).
    public var tensorsAreZeroCopy: Bool { decodedTensorData == nil }

    private let fileBytes: UnsafeRawBufferPointer
    private let mapped: MappedFile?
    private let owner: AnyObject?
    private let decodedTensorData: AlignedBuffer?
    private let tensorData: UnsafeRawBufferPointer
    private let tensorIndex: [String: Int]

    /// Opens and validates the file at `path`, memory-mapping it.
    public convenience init(path: String, options: LoadOptions = LoadOptions()) throws {
        if options.readIntoMemory {
            let buffer = try MappedFile.readWhole(path: path)
            try self.init(bytes: buffer.bytes, name: path, mapped: nil, owner: buffer, options: options)
            return
        }
        let mapped = try MappedFile(path: path)
        try self.init(bytes: mapped.bytes, name: path, mapped: mapped, owner: nil, options: options)
    }

    /// Opens a container held in memory by the caller. `owner` (if any) is retained for the
    /// lifetime of this object; otherwise the caller must keep `bytes` alive and unchanged.
    /// `bytes` should be 64-byte aligned for the zero-copy tensor views to be aligned.
    public convenience init(bytes: UnsafeRawBufferPointer, name: String, owner: AnyObject? = nil,
                            options: LoadOptions = LoadOptions()) throws {
        try self.init(bytes: bytes, name: name, mapped: nil, owner: owner, options: options)
    }

    private init(bytes: UnsafeRawBufferPointer, name: String, mapped: MappedFile?, owner: AnyObject?, options: LoadOptions) throws {
        path = name
        fileBytes = bytes
        self.mapped = mapped
        self.owner = owner
        header = try FileHeader.decode(bytes, actualFileSize: bytes.count, file: name)
        let tableStart = Int(header.sectionTableOffset)
        let tableBytes = UnsafeRawBufferPointer(rebasing: bytes[tableStart..<(tableStart + Int(header.sectionCount) * SectionEntry.size)])
        let sections = try SectionEntry.decodeTable(tableBytes, header: header, file: name)
        self.sections = sections
        // decodeTable guarantees each required kind exactly once.
        func section(_ kind: SectionKind) -> SectionEntry { sections.first { $0.kindCode == kind.rawValue }! }

        // Small sections are always checked and decoded.
        metadata = try ModelFile.withDecoded(section(.metadata), in: bytes, file: name) { try Metadata.decode($0, file: name) }
        let vocabularyBuffer = try ModelFile.decodeToBuffer(section(.vocabulary), in: bytes, file: name, verify: true)
        vocabulary = try VocabularyView(buffer: vocabularyBuffer, file: name)

        let dataSection = section(.tensorData)
        if dataSection.codec == .raw {
            if options.verifyTensors {
                try ModelFile.checkStored(dataSection, in: bytes, file: name, release: mapped)
            }
            decodedTensorData = nil
            tensorData = ModelFile.stored(dataSection, in: bytes)
        } else {
            let buffer = try ModelFile.decodeToBuffer(dataSection, in: bytes, file: name, verify: true)
            decodedTensorData = buffer
            tensorData = buffer.bytes
        }
        tensors = try ModelFile.withDecoded(section(.tensorDirectory), in: bytes, file: name) {
            try TensorDirectory.decode($0, dataSize: Int(dataSection.decodedSize), file: name)
        }
        var index: [String: Int] = [:]
        for (position, tensor) in tensors.enumerated() { index[tensor.name] = position }
        tensorIndex = index
        if options.verifyTensors {
            let failures = verifyTensorChecksums(progress: nil)
            if let first = failures.first { throw first }
        }
    }

    // MARK: Access

    public func tensor(named name: String) -> TensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The stored bytes of a tensor (the dtype's layout); valid while this object lives.
    public func data(of tensor: TensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: tensorData[tensor.offset..<(tensor.offset + tensor.size)])
    }

    public func section(_ kind: SectionKind) -> SectionEntry {
        sections.first { $0.kindCode == kind.rawValue }!
    }

    // MARK: Verification

    /// Checks every checksum the file carries. Returns the failures (empty = all hold).
    /// `progress(done, total)` is called with tensor-data bytes hashed so far.
    public func verifyAll(progress: ((Int, Int) -> Void)? = nil) -> [FormatError] {
        var failures: [FormatError] = []
        for entry in sections {
            do { try ModelFile.checkStored(entry, in: fileBytes, file: path, release: mapped) } catch let error as FormatError {
                failures.append(error)
            } catch {}
        }
        failures += verifyTensorChecksums(progress: progress)
        return failures
    }

    func verifyTensorChecksums(progress: ((Int, Int) -> Void)?) -> [FormatError] {
        var failures: [FormatError] = []
        let total = tensors.reduce(0) { $0 + $1.size }
        var done = 0
        let chunk = 64 << 20
        for tensor in tensors {
            let bytes = data(of: tensor)
            // Hash in chunks, releasing each from the mapping, so a 500 MB embedding matrix is
            // never resident all at once.
            var stream = XXH64Stream()
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + chunk)
                stream.update(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                if decodedTensorData == nil, let mapped, let base = fileBytes.baseAddress, let first = bytes.baseAddress {
                    let offset = first - base
                    mapped.release((offset + start)..<(offset + end))
                }
                start = end
            }
            let computed = stream.digest
            if computed != tensor.checksum {
                failures.append(FormatError(.checksumMismatch, file: path, field: "tensor '\(tensor.name)'.checksum",
                                            problem: hex64(tensor.checksum) + " stored, " + hex64(computed) + " computed: the weights are damaged",
                                            fix: reconvertFix))
            }
            done += tensor.size
            progress?(done, total)
        }
        return failures
    }

    // MARK: Section decoding

    static func stored(_ entry: SectionEntry, in file: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file[Int(entry.offset)..<Int(entry.offset + entry.storedSize)])
    }

    static func checkStored(_ entry: SectionEntry, in file: UnsafeRawBufferPointer, file name: String,
                            release: MappedFile?) throws {
        let bytes = stored(entry, in: file)
        var stream = XXH64Stream()
        let chunk = 64 << 20
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            stream.update(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            release?.release((Int(entry.offset) + start)..<(Int(entry.offset) + end))
            start = end
        }
        guard stream.digest == entry.checksum else {
            throw FormatError(.checksumMismatch, file: name, field: "\(entry.name).checksum",
                              problem: hex64(entry.checksum) + " stored, " + hex64(stream.digest) + " computed",
                              fix: reconvertFix)
        }
    }

    static func decodeToBuffer(_ entry: SectionEntry, in file: UnsafeRawBufferPointer, file name: String, verify: Bool) throws -> AlignedBuffer {
        if verify { try checkStored(entry, in: file, file: name, release: nil) }
        let storedBytes = stored(entry, in: file)
        switch entry.codec {
        case .raw:
            return AlignedBuffer(copying: storedBytes)
        case .zstd:
            let buffer = AlignedBuffer(count: Int(entry.decodedSize))
            try Zstd.decompress(storedBytes, into: buffer.mutableBytes, file: name, field: entry.name)
            return buffer
        }
    }

    /// Decodes a small section, verified, and hands its bytes to `body` (no copy when RAW).
    static func withDecoded<T>(_ entry: SectionEntry, in file: UnsafeRawBufferPointer, file name: String,
                               _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        try checkStored(entry, in: file, file: name, release: nil)
        if entry.codec == .raw { return try body(stored(entry, in: file)) }
        let buffer = try decodeToBuffer(entry, in: file, file: name, verify: false)
        return try body(buffer.bytes)
    }
}
