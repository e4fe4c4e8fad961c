import PairRMFormat
import XCTest

final class RoundTripTests: XCTestCase {
    func testRawAndZstdFilesReadBackEverything() throws {
        for codec in [Codec.raw, .zstd] {
            let (path, weights) = try ContainerFixtures.makeFile("roundtrip-\(codec).prm", codec: codec)
            let file = try ModelFile(path: path)
            XCTAssertEqual(file.tensorsAreZeroCopy, codec == .raw)
            XCTAssertEqual(file.metadata, ContainerFixtures.metadata)
            XCTAssertEqual(file.metadata.strings("quantization.recipe"), ["linear=Q8_P16", "norm=F32"])
            XCTAssertEqual(file.tensors.map(\.name), ["norm.weight", "half", "brain", "embeddings", "linear.q8", "linear.q4"])
            for tensor in file.tensors {
                let data = file.data(of: tensor)
                XCTAssertEqual(Int(bitPattern: data.baseAddress) % 64, 0, "\(tensor.name) is 64-byte aligned")
                let decoded = Quantize.dequantize(data, dtype: tensor.dtype, shape: tensor.shape)
                let original = weights[tensor.name]!
                let tolerance: Float = switch tensor.dtype {
                case .f32: 0
                case .f16: 1e-3
                case .bf16: 1e-2
                case .q8Rows, .q8P16, .q8P16B32: 1.0 / 127
                case .q4P16B32: 1.0 / 8
                }
                for (a, b) in zip(decoded, original) { XCTAssertLessThanOrEqual(abs(a - b), tolerance, "\(tensor.name)") }
            }
            let vocabulary = file.vocabulary
            XCTAssertEqual(vocabulary.pieceCount, 3)
            XCTAssertEqual(Array(vocabulary.piece(2)), Array("▁hi".utf8))
            XCTAssertEqual(vocabulary.scores[2], -1.5)
            XCTAssertEqual(vocabulary.type(1), .unknown)
            XCTAssertEqual(vocabulary.addedTokens, ContainerFixtures.vocabulary.addedTokens)
            XCTAssertEqual(file.verifyAll(), [])
            XCTAssertNoThrow(try ModelFile(path: path, options: LoadOptions(verifyTensors: true)))
        }
    }

    func testOutputIsByteReproducible() throws {
        let first = try ContainerFixtures.read(ContainerFixtures.makeFile("repro-a.prm").path)
        let second = try ContainerFixtures.read(ContainerFixtures.makeFile("repro-b.prm").path)
        XCTAssertEqual(first, second)
    }

    func testAbandonedWriterLeavesNothingBehind() throws {
        let path = ContainerFixtures.temporaryPath("abandoned.prm")
        do {
            let writer = try ContainerWriter(path: path)
            try writer.beginTensors([TensorPlan(name: "w", dtype: .f32, shape: [2])])
            XCTAssertTrue(FileManager.default.fileExists(atPath: writer.temporaryPath))
            // Wrong size: the writer refuses, and dropping it removes the partial file.
            XCTAssertThrowsError(try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try writer.writeTensor(named: "w", bytes: $0) })
            writer.abandon()
            XCTAssertFalse(FileManager.default.fileExists(atPath: writer.temporaryPath))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        XCTAssertFalse(leftovers.contains { $0.hasPrefix("abandoned.prm") })
    }

    func testMetadataRejectsDuplicateAndUnsortedKeys() throws {
        var writer = ByteWriter()
        writer.u64(2)
        for key in ["b.key", "a.key"] {
            writer.u32(UInt32(key.utf8.count)); writer.append(Array(key.utf8)); writer.u32(2); writer.i64(1)
        }
        try writer.bytes.withUnsafeBytes { raw in
            assertFormatError(.malformed) { try Metadata.decode(raw, file: "m") }
        }
    }
}

final class InterruptTests: XCTestCase {
    /// A writer interrupted by SIGTERM/SIGINT removes its temporary file before the process dies.
    func testSignalRemovesTheTemporaryFile() throws {
        for signalNumber in [SIGTERM, SIGINT] {
            let path = ContainerFixtures.temporaryPath("interrupted-\(signalNumber).prm")
            let child = fork()
            if child == 0 {
                // The child inherits this thread's signal mask, and other tests in this process
                // (Hummingbird's test servers watch SIGTERM/SIGINT through Dispatch) leave these
                // signals blocked: unblock them, as a fresh `pairrm convert` process has them.
                var signals = sigset_t()
                sigemptyset(&signals)
                sigaddset(&signals, SIGTERM)
                sigaddset(&signals, SIGINT)
                pthread_sigmask(SIG_UNBLOCK, &signals, nil)
                // Child: start a file, then get interrupted mid-write.
                guard let writer = try? ContainerWriter(path: path),
                      (try? writer.beginTensors([TensorPlan(name: "w", dtype: .f32, shape: [1024])])) != nil else { _exit(3) }
                kill(getpid(), signalNumber)
                _exit(4)  // not reached: the default action ends the process
            }
            var status: Int32 = 0
            XCTAssertEqual(waitpid(child, &status, 0), child)
            XCTAssertEqual(status & 0x7F, signalNumber, "the child died from the signal, re-raised after cleanup")
            let directory = (path as NSString).deletingLastPathComponent
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory)
            XCTAssertFalse(leftovers.contains { $0.hasPrefix("interrupted-\(signalNumber).prm") }, "\(leftovers)")
        }
    }
}
