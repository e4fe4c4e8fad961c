import PairRMFormat
import XCTest

final class QuantizeTests: XCTestCase {
    func matrix(_ rows: Int, _ columns: Int, seed: UInt64) -> [Float] {
        var generator = SplitMix(seed: seed)
        return (0..<(rows * columns)).map { _ in generator.nextFloat() }
    }

    func roundTrip(_ values: [Float], _ dtype: DType, _ shape: [Int]) throws -> [Float] {
        let bytes = try ContainerFixtures.encode(values, TensorPlan(name: "t", dtype: dtype, shape: shape))
        return bytes.withUnsafeBytes { Quantize.dequantize($0, dtype: dtype, shape: shape) }
    }

    func testQ8ErrorIsAtMostHalfAStepPerRow() throws {
        for (rows, columns) in [(1, 1), (5, 8), (17, 10), (33, 67)] {
            let values = matrix(rows, columns, seed: UInt64(rows * 100 + columns))
            for dtype in [DType.q8Rows, .q8P16] {
                let decoded = try roundTrip(values, dtype, [rows, columns])
                for row in 0..<rows {
                    let slice = values[(row * columns)..<((row + 1) * columns)]
                    let step = slice.map(abs).max()! / 127
                    for column in 0..<columns {
                        let index = row * columns + column
                        XCTAssertLessThanOrEqual(abs(decoded[index] - values[index]), step / 2 * 1.0001 + 1e-12,
                                                 "\(dtype) [\(row),\(column)]")
                    }
                }
            }
        }
    }

    func testQ8P16B32ErrorIsAtMostHalfAStepPerBlock() throws {
        for (rows, columns) in [(1, 1), (5, 8), (17, 10), (18, 70), (33, 96)] {
            var values = matrix(rows, columns, seed: UInt64(rows * 1000 + columns))
            // A block with a tiny range and an all-zero block must get their own scales.
            if columns > 32 { for k in 32..<min(columns, 64) { values[k] *= 1e-3 } }
            if columns > 64 { for k in 64..<min(columns, 96) { values[columns + k] = 0 } }
            let decoded = try roundTrip(values, .q8P16B32, [rows, columns])
            for row in 0..<rows {
                for block in stride(from: 0, to: columns, by: 32) {
                    let range = (row * columns + block)..<(row * columns + min(columns, block + 32))
                    let step = values[range].map(abs).max()! / 127
                    for index in range {
                        XCTAssertLessThanOrEqual(abs(decoded[index] - values[index]), step / 2 * 1.0001 + 1e-12,
                                                 "[\(row),\(index - row * columns)]")
                    }
                }
            }
        }
    }

    func testQ8P16B32ByteLayoutMatchesTheSpecPicture() throws {
        // 17 rows (two panels), 40 columns (two blocks, the second padded). Row r, column k holds
        // r * 2 + k % 32 in block 0 and -(r + k % 32) in block 1; each block's max |w| is 127 (scale 1)
        // in block 0 and 63.5 (scale 0.5) in block 1.
        let (rows, columns) = (17, 40)
        var values = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for k in 0..<32 { values[r * columns + k] = Float(r * 2 + k) }
            values[r * columns + 31] = 127
            for k in 32..<40 { values[r * columns + k] = -Float(r + k - 32) }
            values[r * columns + 39] = -63.5
        }
        let bytes = try ContainerFixtures.encode(values, TensorPlan(name: "t", dtype: .q8P16B32, shape: [rows, columns]))
        let stride = 2 * 576
        XCTAssertEqual(bytes.count, 2 * stride)
        XCTAssertEqual(DType.q8P16B32.byteSize(shape: [rows, columns]), 2 * stride)
        // panel 0, block 0, group 0: r0k0 r0k1 r0k2 r0k3 r1k0 ...
        XCTAssertEqual(Array(bytes[0..<8]), [0, 1, 2, 3, 2, 3, 4, 5])
        // group 7 of row 15: columns 28...31
        XCTAssertEqual(Array(bytes[(7 * 64 + 60)..<(7 * 64 + 64)]), [58, 59, 60, 127])
        func f32(_ at: Int) -> Float { bytes[at..<(at + 4)].withUnsafeBytes { $0.loadUnaligned(as: Float.self) } }
        XCTAssertEqual(f32(512), 1)
        XCTAssertEqual(f32(512 + 60), 1)
        // block 1, group 0, row 2: -(2 + 0...3) / 0.5
        XCTAssertEqual(Array(bytes[(576 + 8)..<(576 + 12)]).map { Int8(bitPattern: $0) }, [-4, -6, -8, -10])
        // block 1, groups 2...7 are column padding: zero
        XCTAssertTrue(bytes[(576 + 128)..<(576 + 512)].allSatisfy { $0 == 0 })
        XCTAssertEqual(f32(576 + 512 + 4 * 3), 0.5)
        // panel 1: row 16 then 15 padding rows (zero bytes, scale 0)
        XCTAssertEqual(Array(bytes[stride..<(stride + 8)]), [32, 33, 34, 35, 0, 0, 0, 0])
        XCTAssertEqual(f32(stride + 512), 1)
        XCTAssertEqual(f32(stride + 512 + 4), 0)
        XCTAssertEqual(f32(stride + 576 + 512 + 4), 0)
    }

    func testQ4ErrorIsAtMostHalfAStepPerBlock() throws {
        let (rows, columns) = (18, 70)
        let values = matrix(rows, columns, seed: 11)
        let decoded = try roundTrip(values, .q4P16B32, [rows, columns])
        for row in 0..<rows {
            for block in stride(from: 0, to: columns, by: 32) {
                let range = (row * columns + block)..<(row * columns + min(columns, block + 32))
                let step = values[range].map(abs).max()! / 8
                for index in range {
                    // Values the grid reaches (−8…7 steps from the extreme's side) are within half a
                    // step; the opposite extreme clamps at 7 steps, within one step (as ggml's Q4_0).
                    let reachable = abs(values[index]) <= 7.5 * step
                    let bound = reachable ? step / 2 : step
                    XCTAssertLessThanOrEqual(abs(decoded[index] - values[index]), bound * 1.0001 + 1e-12)
                }
            }
        }
    }

    func testQ4KeepsTheExtremeValueExactly() throws {
        var values = [Float](repeating: 0.01, count: 32)
        values[5] = -3.0
        let decoded = try roundTrip(values, .q4P16B32, [1, 32])
        XCTAssertEqual(decoded[5], -3.0)
    }

    func testQ8P16ByteLayoutMatchesTheSpecPicture() throws {
        // Row r, column k holds r * 10 + k, a row max of 127 makes the scale 1 for every row.
        let (rows, columns) = (16, 8)
        var values = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows { for k in 0..<columns { values[r * columns + k] = Float(r * 7 + k) } }
        for r in 0..<rows { values[r * columns + 7] = 127 }
        let bytes = try ContainerFixtures.encode(values, TensorPlan(name: "t", dtype: .q8P16, shape: [rows, columns]))
        XCTAssertEqual(bytes.count, 16 * 8 + 128)
        // group 0: r0k0 r0k1 r0k2 r0k3 r1k0 ...
        XCTAssertEqual(Array(bytes[0..<8]), [0, 1, 2, 3, 7, 8, 9, 10])
        // group 1 of row 15: columns 4...7
        XCTAssertEqual(Array(bytes[(64 + 60)..<(64 + 64)]).map { Int8(bitPattern: $0) }, [109, 110, 111, 127])
        // scales then row sums after 16 * Kp bytes
        let scale = bytes[128..<132].withUnsafeBytes { $0.loadUnaligned(as: Float.self) }
        XCTAssertEqual(scale, 1)
        let rowSum0 = bytes[192..<196].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        XCTAssertEqual(rowSum0, 0 + 1 + 2 + 3 + 4 + 5 + 6 + 127)
    }

    func testQ4ByteLayoutPacksTwoColumnGroupsPerByte() throws {
        // One row, one block: value k → nibble chosen so that (u − 8) * scale = value.
        var values = [Float](repeating: 0, count: 32)
        values[0] = -8  // the extreme: scale = 1, u = 0
        for k in 1..<32 { values[k] = Float(k % 16 - 8) }
        let bytes = try ContainerFixtures.encode(values, TensorPlan(name: "t", dtype: .q4P16B32, shape: [1, 32]))
        XCTAssertEqual(bytes.count, 320)
        // group 0, row 0, j = 0: low nibble = column 0 (u 0), high = column 4 (u 4)
        XCTAssertEqual(bytes[0], 0x40)
        XCTAssertEqual(bytes[1], 0x51)  // column 1 (u 1) | column 5 (u 5) << 4
        // row 1 is padding: 0x88 (both nibbles decode to 0)
        XCTAssertEqual(bytes[4], 0x88)
        let scale = bytes[256..<260].withUnsafeBytes { $0.loadUnaligned(as: Float.self) }
        XCTAssertEqual(scale, 1)
    }

    func testHalfPrecisionConversionsRoundToNearestEven() {
        XCTAssertEqual(Quantize.f32ToBF16Bits(1.0), 0x3F80)
        XCTAssertEqual(Quantize.f32ToBF16Bits(Float(bitPattern: 0x3F80_8000)), 0x3F80)  // tie → even
        XCTAssertEqual(Quantize.f32ToBF16Bits(Float(bitPattern: 0x3F81_8000)), 0x3F82)  // tie → even
        XCTAssertTrue(Quantize.bf16BitsToF32(Quantize.f32ToBF16Bits(.nan)).isNaN)
        XCTAssertEqual(Quantize.f16BitsToF32(Quantize.f32ToF16Bits(65504)), 65504)
        XCTAssertEqual(Quantize.f16BitsToF32(0x0001), Float(bitPattern: 0x3380_0000))  // smallest subnormal
    }

    func testAbsurdShapesAreRejectedNotTrapped() {
        XCTAssertNil(DType.f32.byteSize(shape: [Int.max, 2]))
        XCTAssertNil(DType.q8P16.byteSize(shape: [Int.max, 4]))
        XCTAssertNil(DType.q4P16B32.byteSize(shape: [1 << 40, 1 << 40]))
        XCTAssertNil(DType.q8P16B32.byteSize(shape: [1 << 40, 1 << 40]))
        XCTAssertNil(DType.q8P16B32.byteSize(shape: [Int.max, 32]))
        XCTAssertNil(DType.q8P16B32.byteSize(shape: [16, Int.max]))
        XCTAssertNil(DType.q8P16B32.byteSize(shape: [16]))
        XCTAssertEqual(DType(name: "Q8_P16B32"), .q8P16B32)
        XCTAssertEqual(DType.q8P16B32.rawValue, 19)
        XCTAssertNil(DType.q8Rows.byteSize(shape: [4]))
        XCTAssertNil(DType.f32.byteSize(shape: [-1]))
    }
}
