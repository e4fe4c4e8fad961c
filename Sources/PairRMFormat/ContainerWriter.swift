/// What the writer needs to know about a tensor before any bytes are written: the plan lets the
/// tensor-data section be streamed (and, with zstd, its frame size declared up front).
public struct TensorPlan: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]

    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }
}

/// Writes a `.prm` file in one forward pass: tensors are streamed in plan order, then the
/// vocabulary, directory, metadata, section table and header follow. Output goes to a temporary
/// file beside the destination that is renamed only by `finish()`; any failure, `abandon()`, or
/// a SIGINT/SIGTERM removes it. The temporary (`<out>.tmp.<pid>`, or `<out>.tmp.<pid>.<n>` if
/// that name is taken) is created with O_EXCL|O_NOFOLLOW, so nothing planted under its name is
/// written through; temporaries of the same output whose pid is dead (a SIGKILLed conversion)
/// are removed first. The destination may be new or a regular file (replaced atomically).
public final class ContainerWriter {
    public let destination: String
    public let temporaryPath: String
    public let tensorCodec: Codec
    private let zstdLevel: Int32
    private var descriptor: Int32
    private var position: UInt64 = 0
    private var sections: [SectionEntry] = []
    private var finished = false

    // Tensor-data streaming state.
    private var plan: [TensorPlan] = []
    private var planned: [TensorInfo] = []
    private var nextTensor = 0
    private var decodedPosition = 0
    private var dataStart: UInt64 = 0
    private var dataDecodedSize = 0
    private var sectionHash = XXH64Stream()
    private var frame: ZstdFrameWriter?

    /// - Parameters:
    ///   - tensorCodec: `.raw` for a mappable file, `.zstd` for a smaller distribution file.
    ///   - zstdLevel: compression level for zstd sections (the vocabulary is always compressed).
    public init(path: String, tensorCodec: Codec = .raw, zstdLevel: Int32 = Zstd.defaultLevel) throws {
        destination = path
        self.tensorCodec = tensorCodec
        self.zstdLevel = zstdLevel
        try Self.checkDestination(path)
        // Temporaries of this output left by killed conversions (their pid is gone) are removed;
        // ours is created exclusively, never through a planted file or symlink.
        TemporaryFiles.removeStale(of: path)
        guard let created = TemporaryFiles.createExclusive(for: path) else {
            let reason = errnoText()
            throw FormatError(.io, file: path, field: "create", problem: "cannot create \(path).tmp.\(getpid()): \(reason)",
                              fix: "check that the output directory exists and is writable")
        }
        temporaryPath = created.path
        descriptor = created.descriptor
        TemporaryFiles.register(temporaryPath)
        try writeZeros(FileHeader.size)  // the header is patched in by finish()
    }

    /// The output may be new or an existing regular file (replaced atomically by `finish()`);
    /// a directory, device node, FIFO or socket there (also through a symlink) is refused.
    static func checkDestination(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return }  // absent (or a dangling link, which rename replaces)
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let what = switch info.st_mode & S_IFMT {
            case S_IFDIR: "a directory"
            case S_IFCHR, S_IFBLK: "a device node"
            case S_IFIFO: "a FIFO"
            case S_IFSOCK: "a socket"
            default: "not a regular file"
            }
            throw FormatError(.io, file: path, field: "output", problem: "exists and is \(what); only a regular file is ever replaced",
                              fix: "choose an output file path, e.g. model.prm")
        }
    }

    deinit { if !finished { abandon() } }

    /// Removes the partial output. Safe to call more than once.
    public func abandon() {
        if descriptor >= 0 { close(descriptor); descriptor = -1 }
        if !finished { unlink(temporaryPath) }
        TemporaryFiles.unregister(temporaryPath)
        finished = true
    }

    // MARK: Low-level output

    private func fail(_ field: String, _ problem: String) -> FormatError {
        FormatError(.io, file: destination, field: field, problem: problem, fix: "check free disk space and permissions, then retry")
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = systemWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw fail("write", "writing at byte \(position + UInt64(offset)) failed: \(errnoText())")
            }
            offset += written
        }
        position += UInt64(bytes.count)
    }

    private func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    private func writeZeros(_ count: Int) throws {
        if count > 0 { try write([UInt8](repeating: 0, count: count)) }
    }

    private func padFile() throws {
        try writeZeros(Int((64 - position % 64) % 64))
    }

    private func addSection(_ kind: SectionKind, payload: [UInt8], codec: Codec) throws {
        try padFile()
        let stored = codec == .zstd ? try payload.withUnsafeBytes { try Zstd.compress($0, level: zstdLevel) } : payload
        let offset = position
        try write(stored)
        sections.append(SectionEntry(kind: kind, codec: codec, offset: offset, storedSize: UInt64(stored.count),
                                     decodedSize: UInt64(payload.count), checksum: xxh64(stored)))
    }

    // MARK: Tensors

    /// Fixes the order, types and shapes of all tensors. Must be called once, before `writeTensor`.
    public func beginTensors(_ plan: [TensorPlan]) throws {
        precondition(self.plan.isEmpty && nextTensor == 0, "beginTensors is called once")
        var offset = 0
        var names = Set<String>()
        for item in plan {
            guard names.insert(item.name).inserted else { throw fail("tensor '\(item.name)'", "planned twice") }
            guard let size = item.dtype.byteSize(shape: item.shape) else {
                throw fail("tensor '\(item.name)'", "shape \(item.shape) cannot be stored as \(item.dtype)")
            }
            planned.append(TensorInfo(name: item.name, dtype: item.dtype, shape: item.shape, offset: offset, size: size, checksum: 0))
            offset = alignUp(offset + size, FileHeader.alignment)!
        }
        self.plan = plan
        dataDecodedSize = planned.last.map { $0.offset + $0.size } ?? 0
        try padFile()
        dataStart = position
        if tensorCodec == .zstd {
            frame = try ZstdFrameWriter(level: zstdLevel, pledgedSize: UInt64(dataDecodedSize), threads: 2)
        }
        if plan.isEmpty { try finishTensorData() }
    }

    /// Appends the next planned tensor's stored bytes (exactly its planned size).
    public func writeTensor(named name: String, bytes: UnsafeRawBufferPointer) throws {
        guard nextTensor < planned.count, planned[nextTensor].name == name else {
            throw fail("tensor '\(name)'", "written out of plan order")
        }
        var info = planned[nextTensor]
        guard bytes.count == info.size else {
            throw fail("tensor '\(name)'", "has \(bytes.count) bytes, the plan says \(info.size)")
        }
        try emitData(zeroCount: info.offset - decodedPosition)
        info.checksum = xxh64(bytes)
        try emitData(bytes)
        planned[nextTensor] = info
        nextTensor += 1
        if nextTensor == planned.count { try finishTensorData() }
    }

    private func emitData(zeroCount: Int) throws {
        if zeroCount > 0 { try [UInt8](repeating: 0, count: zeroCount).withUnsafeBytes { try emitData($0) } }
    }

    private func emitData(_ bytes: UnsafeRawBufferPointer) throws {
        decodedPosition += bytes.count
        if let frame {
            try frame.write(bytes, finish: false) { chunk in
                sectionHash.update(chunk)
                try write(chunk)
            }
        } else {
            sectionHash.update(bytes)
            try write(bytes)
        }
    }

    private func finishTensorData() throws {
        if let frame {
            try frame.write(UnsafeRawBufferPointer(start: nil, count: 0), finish: true) { chunk in
                sectionHash.update(chunk)
                try write(chunk)
            }
            self.frame = nil
        }
        sections.append(SectionEntry(kind: .tensorData, codec: tensorCodec, offset: dataStart,
                                     storedSize: position - dataStart, decodedSize: UInt64(dataDecodedSize),
                                     checksum: sectionHash.digest))
    }

    // MARK: Finish

    /// Writes the vocabulary, directory, metadata, table and header, flushes, and atomically
    /// renames the temporary file to the destination.
    public func finish(vocabulary: VocabularyContents, metadata: Metadata) throws {
        guard nextTensor == planned.count, sections.contains(where: { $0.kindCode == SectionKind.tensorData.rawValue }) else {
            throw fail("tensors", "only \(nextTensor) of \(planned.count) planned tensors were written")
        }
        try addSection(.vocabulary, payload: vocabulary.encoded(), codec: .zstd)
        try addSection(.tensorDirectory, payload: TensorDirectory.encode(planned), codec: .raw)
        try addSection(.metadata, payload: metadata.encoded(), codec: .raw)
        try padFile()
        let tableOffset = position
        var table = ByteWriter()
        for entry in sections { entry.encode(into: &table) }
        try write(table.bytes)
        let header = FileHeader(fileSize: position, sectionTableOffset: tableOffset, sectionCount: UInt32(sections.count),
                                sectionTableChecksum: xxh64(table.bytes))
        let headerBytes = header.encoded()
        let written = headerBytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard written == FileHeader.size else { throw fail("header", "cannot write the header: \(errnoText())") }
        guard fsync(descriptor) == 0 else { throw fail("fsync", "cannot flush: \(errnoText())") }
        close(descriptor)
        descriptor = -1
        try Self.checkDestination(destination)
        guard rename(temporaryPath, destination) == 0 else {
            throw fail("rename", "cannot rename \(temporaryPath) to \(destination): \(errnoText())")
        }
        finished = true
        TemporaryFiles.unregister(temporaryPath)
    }
}
