import PairRMFormat
import XCTest

final class ChecksumTests: XCTestCase {
    func testXXH64KnownVectors() {
        XCTAssertEqual(xxh64([UInt8]()), 0xEF46_DB37_51D8_E999)
        XCTAssertEqual(xxh64(Array("a".utf8)), 0xD24E_C4F1_A98C_6E5B)
        XCTAssertEqual(xxh64(Array("abc".utf8)), 0x44BC_2CF5_AD77_0999)
        XCTAssertEqual(xxh64(Array("Nobody inspects the spammish repetition".utf8)), 0xFBCE_A83C_8A37_8BF1)
    }

    func testStreamingEqualsOneShotForEverySplit() {
        var generator = SplitMix(seed: 3)
        let data = (0..<300).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let expected = xxh64(data)
        for split in [0, 1, 7, 31, 32, 33, 64, 100, 299, 300] {
            var stream = XXH64Stream()
            data.withUnsafeBytes { raw in
                stream.update(UnsafeRawBufferPointer(rebasing: raw[0..<split]))
                stream.update(UnsafeRawBufferPointer(rebasing: raw[split...]))
            }
            XCTAssertEqual(stream.digest, expected, "split at \(split)")
        }
    }

    func testSHA256KnownVectors() {
        func sha(_ text: String) -> String {
            var stream = SHA256Stream()
            Array(text.utf8).withUnsafeBytes { stream.update($0) }
            return stream.finalizeHex()
        }
        XCTAssertEqual(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
