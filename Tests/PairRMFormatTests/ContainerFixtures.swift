import PairRMFormat
import XCTest

/// Builds small containers for the reader tests and edits their raw bytes.
enum ContainerFixtures {
    static func temporaryPath(_ name: String) -> String {
        let directory = NSTemporaryDirectory() + "pairrm-format-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory + "/" + name
    }

    static let vocabulary = VocabularyContents(
        pieces: [Array("[PAD]".utf8), Array("[UNK]".utf8), Array("▁hi".utf8)],
        scores: [0, 0, -1.5],
        types: [.control, .unknown, .normal],
        charsmap: [],
        addedTokens: [AddedToken(id: 3, content: "[MASK]", special: true, normalized: false),
                      AddedToken(id: 4, content: "<|source|>", special: false, normalized: true)])

    static var metadata: Metadata {
        var metadata = Metadata()
        metadata["general.architecture"] = .string("tiny")
        metadata["model.hidden_size"] = .int(8)
        metadata["model.layer_norm_eps"] = .double(1e-7)
        metadata["tokenizer.byte_fallback"] = .bool(true)
        metadata["quantization.recipe"] = .array([.string("linear=Q8_P16"), .string("norm=F32")])
        return metadata
    }

    /// A file with one tensor of each dtype, written with `codec`.
    static func makeFile(_ name: String, codec: Codec = .raw) throws -> (path: String, weights: [String: [Float]]) {
        let path = temporaryPath(name)
        let writer = try ContainerWriter(path: path, tensorCodec: codec)
        var weights: [String: [Float]] = [:]
        var generator = SplitMix(seed: 7)
        let plans = [
            TensorPlan(name: "norm.weight", dtype: .f32, shape: [8]),
            TensorPlan(name: "half", dtype: .f16, shape: [3, 5]),
            TensorPlan(name: "brain", dtype: .bf16, shape: [4]),
            TensorPlan(name: "embeddings", dtype: .q8Rows, shape: [5, 8]),
            TensorPlan(name: "linear.q8", dtype: .q8P16, shape: [17, 10]),
            TensorPlan(name: "linear.q4", dtype: .q4P16B32, shape: [18, 40]),
        ]
        try writer.beginTensors(plans)
        for plan in plans {
            let values = (0..<plan.shape.reduce(1, *)).map { _ in generator.nextFloat() }
            weights[plan.name] = values
            let bytes = try encode(values, plan)
            try bytes.withUnsafeBytes { try writer.writeTensor(named: plan.name, bytes: $0) }
        }
        try writer.finish(vocabulary: vocabulary, metadata: metadata)
        return (path, weights)
    }

    static func encode(_ values: [Float], _ plan: TensorPlan) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: plan.dtype.byteSize(shape: plan.shape)!)
        values.withUnsafeBufferPointer { source in
            bytes.withUnsafeMutableBytes { destination in
                switch plan.dtype {
                case .f32, .f16, .bf16: Quantize.storeFloat(source, as: plan.dtype, into: destination)
                case .q8Rows: Quantize.quantizeQ8Rows(source, rows: plan.shape[0], columns: plan.shape[1], into: destination)
                case .q8P16: Quantize.quantizeQ8P16(source, rows: plan.shape[0], columns: plan.shape[1], into: destination)
                case .q4P16B32: Quantize.quantizeQ4P16B32(source, rows: plan.shape[0], columns: plan.shape[1], into: destination)
                case .q8P16B32: Quantize.quantizeQ8P16B32(source, rows: plan.shape[0], columns: plan.shape[1], into: destination)
                }
            }
        }
        return bytes
    }

    static func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func open(_ bytes: [UInt8], options: LoadOptions = LoadOptions()) throws -> ModelFile {
        let buffer = AlignedBuffer(count: bytes.count)
        bytes.withUnsafeBytes { buffer.mutableBytes.copyMemory(from: $0) }
        return try ModelFile(bytes: buffer.bytes, name: "test.prm", owner: buffer, options: options)
    }

    // MARK: Byte surgery

    static func u64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        bytes[offset..<(offset + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        bytes[offset..<(offset + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func put64(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt64) {
        for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    static func put32(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt32) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }

    /// Offset of the section-table entry of `kind`.
    static func entryOffset(_ bytes: [UInt8], kind: SectionKind) -> Int {
        let table = Int(u64(bytes, 24)), count = Int(u32(bytes, 32))
        for index in 0..<count where u32(bytes, table + 48 * index) == kind.rawValue { return table + 48 * index }
        fatalError("no \(kind) section")
    }

    /// Recomputes the table and header checksums after an edit, so the reader gets past them to
    /// the check under test.
    static func resealTable(_ bytes: inout [UInt8]) {
        let table = Int(u64(bytes, 24)), count = Int(u32(bytes, 32))
        let checksum = bytes[table..<(table + 48 * count)].withUnsafeBytes { xxh64($0) }
        put64(&bytes, 40, checksum)
        resealHeader(&bytes)
    }

    static func resealHeader(_ bytes: inout [UInt8]) {
        put64(&bytes, 56, bytes[0..<56].withUnsafeBytes { xxh64($0) })
    }

    /// Recomputes the stored checksum of a section after editing its payload.
    static func resealSection(_ bytes: inout [UInt8], kind: SectionKind) {
        let entry = entryOffset(bytes, kind: kind)
        let offset = Int(u64(bytes, entry + 8)), size = Int(u64(bytes, entry + 16))
        put64(&bytes, entry + 32, bytes[offset..<(offset + size)].withUnsafeBytes { xxh64($0) })
        resealTable(&bytes)
    }
}

/// Deterministic pseudo-random numbers for tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextFloat() -> Float { Float(Int64(bitPattern: next()) >> 40) / Float(1 << 23) }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Asserts `body` throws a `FormatError` of `kind` and returns it for further checks.
@discardableResult
func assertFormatError<T>(_ kind: FormatError.Kind, file: StaticString = #filePath, line: UInt = #line,
                          _ body: () throws -> T) -> FormatError? {
    do {
        _ = try body()
        XCTFail("expected a \(kind) error, got success", file: file, line: line)
    } catch let error as FormatError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        XCTAssertFalse(error.fix.isEmpty, file: file, line: line)
        return error
    } catch {
        XCTFail("expected FormatError, got \(error)", file: file, line: line)
    }
    return nil
}
