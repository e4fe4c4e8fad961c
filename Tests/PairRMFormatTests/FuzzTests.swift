import PairRMFormat
import XCTest

/// Deterministic mutation fuzzing of the reader: random bit flips, truncations, and random values
/// written into the header and section table — half of them resealed so the checksums pass and the
/// deeper checks are reached. Every mutant must either load or throw a FormatError; when it loads,
/// every tensor must be readable. Bounded by iterations and by time (PAIRRM_FUZZ_SECONDS, default 8).
final class FuzzTests: XCTestCase {
    func testReaderSurvivesMutations() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["PAIRRM_FUZZ_SECONDS"] ?? "") ?? 8
        let base = try ContainerFixtures.read(ContainerFixtures.makeFile("fuzz-base.prm", codec: .raw).path)
        let zstdBase = try ContainerFixtures.read(ContainerFixtures.makeFile("fuzz-base-zstd.prm", codec: .zstd).path)
        var generator = SplitMix(seed: 2026)
        let deadline = Date().addingTimeInterval(seconds)
        var loaded = 0, rejected = 0, iterations = 0
        while iterations < 200_000 && Date() < deadline {
            iterations += 1
            var bytes = generator.below(2) == 0 ? base : zstdBase
            let tableOffset = Int(ContainerFixtures.u64(bytes, 24))
            switch generator.below(5) {
            case 0:
                for _ in 0..<(1 + generator.below(8)) {
                    bytes[generator.below(bytes.count)] ^= UInt8(1 << generator.below(8))
                }
            case 1:
                bytes = Array(bytes[0..<generator.below(bytes.count)])
            case 2:
                let offset = tableOffset + generator.below(bytes.count - tableOffset - 8)
                ContainerFixtures.put64(&bytes, offset, generator.next() >> UInt64(generator.below(64)))
                ContainerFixtures.resealTable(&bytes)
            case 3:
                // Damage a payload and reseal its section so parsing, not the checksum, must catch it.
                let kind = [SectionKind.metadata, .tensorDirectory, .vocabulary][generator.below(3)]
                let entry = ContainerFixtures.entryOffset(bytes, kind: kind)
                let offset = Int(ContainerFixtures.u64(bytes, entry + 8)), size = Int(ContainerFixtures.u64(bytes, entry + 16))
                for _ in 0..<(1 + generator.below(4)) {
                    let position = offset + generator.below(max(size, 1))
                    bytes[position] = generator.below(3) == 0 ? 0xFF : UInt8(truncatingIfNeeded: generator.next())
                }
                ContainerFixtures.resealSection(&bytes, kind: kind)
            default:
                let offset = generator.below(56)
                bytes[offset] = UInt8(truncatingIfNeeded: generator.next())
                ContainerFixtures.resealHeader(&bytes)
            }
            do {
                let file = try ContainerFixtures.open(bytes)
                for tensor in file.tensors {
                    _ = Quantize.dequantize(file.data(of: tensor), dtype: tensor.dtype, shape: tensor.shape)
                }
                for id in 0..<file.vocabulary.pieceCount { _ = file.vocabulary.piece(id) }
                _ = file.verifyAll()
                loaded += 1
            } catch is FormatError {
                rejected += 1
            }
        }
        print("fuzz: \(iterations) mutants, \(loaded) loaded, \(rejected) rejected with a FormatError")
        XCTAssertGreaterThan(iterations, 100)
        XCTAssertGreaterThan(rejected, 0)
    }
}
