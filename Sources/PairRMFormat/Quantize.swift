/// Conversions from f32 into each stored type, and back (Formats/prm-v1.md §6). The writer's
/// quantizers and the reference dequantizers live side by side so the byte layout is defined in
/// exactly one place; the SIMD kernels read the same layout through `QuantLayout`.
public enum Quantize {
    /// round-half-away-from-zero, as the spec says.
    @inline(__always)
    static func round(_ value: Float) -> Float { value.rounded(.toNearestOrAwayFromZero) }

    // MARK: Half precision

    public static func f32ToF16Bits(_ value: Float) -> UInt16 { Float16(value).bitPattern }

    public static func f16BitsToF32(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// Round to nearest even; NaN stays a (quiet) NaN.
    public static func f32ToBF16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }

    public static func bf16BitsToF32(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Writes `source` as F32, F16 or BF16 little-endian into `destination` (2 or 4 bytes each).
    public static func storeFloat(_ source: UnsafeBufferPointer<Float>, as dtype: DType, into destination: UnsafeMutableRawBufferPointer) {
        switch dtype {
        case .f32:
            for (index, value) in source.enumerated() {
                destination.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 4 * index, as: UInt32.self)
            }
        case .f16:
            for (index, value) in source.enumerated() {
                destination.storeBytes(of: f32ToF16Bits(value).littleEndian, toByteOffset: 2 * index, as: UInt16.self)
            }
        case .bf16:
            for (index, value) in source.enumerated() {
                destination.storeBytes(of: f32ToBF16Bits(value).littleEndian, toByteOffset: 2 * index, as: UInt16.self)
            }
        default:
            preconditionFailure("storeFloat handles F32/F16/BF16 only")
        }
    }

    // MARK: Q8_ROWS

    public static func quantizeQ8Rows(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns: Int,
                                      into destination: UnsafeMutableRawBufferPointer) {
        let layout = QuantLayout.q8Rows(rows: rows, columns: columns)!
        precondition(weights.count == rows * columns && destination.count == layout.byteSize)
        destination.initializeMemory(as: UInt8.self, repeating: 0)
        for row in 0..<rows {
            let source = UnsafeBufferPointer(rebasing: weights[(row * columns)..<((row + 1) * columns)])
            let scale = rowScale(source)
            destination.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: 4 * row, as: UInt32.self)
            let base = layout.stride + row * columns
            for column in 0..<columns {
                destination.storeBytes(of: quantize8(source[column], scale), toByteOffset: base + column, as: Int8.self)
            }
        }
    }

    @inline(__always)
    static func rowScale(_ row: UnsafeBufferPointer<Float>) -> Float {
        var maximum: Float = 0
        for value in row { maximum = Swift.max(maximum, abs(value)) }
        return maximum / 127
    }

    @inline(__always)
    static func quantize8(_ value: Float, _ scale: Float) -> Int8 {
        guard scale > 0 else { return 0 }
        return Int8(Swift.max(-127, Swift.min(127, round(value / scale))))
    }

    // MARK: Q8_P16

    public static func quantizeQ8P16(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns: Int,
                                     into destination: UnsafeMutableRawBufferPointer) {
        let layout = QuantLayout.q8P16(rows: rows, columns: columns)!
        precondition(weights.count == rows * columns && destination.count == layout.byteSize)
        destination.initializeMemory(as: UInt8.self, repeating: 0)
        let kp = layout.paddedColumns
        for row in 0..<rows {
            let source = UnsafeBufferPointer(rebasing: weights[(row * columns)..<((row + 1) * columns)])
            let scale = rowScale(source)
            let panel = layout.stride * (row / 16), r = row % 16
            var sum: Int32 = 0
            for column in 0..<columns {
                let q = quantize8(source[column], scale)
                sum += Int32(q)
                destination.storeBytes(of: q, toByteOffset: panel + 64 * (column / 4) + 4 * r + column % 4, as: Int8.self)
            }
            destination.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: panel + 16 * kp + 4 * r, as: UInt32.self)
            destination.storeBytes(of: sum.littleEndian, toByteOffset: panel + 16 * kp + 64 + 4 * r, as: Int32.self)
        }
    }

    // MARK: Q4_P16B32

    public static func quantizeQ4P16B32(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns: Int,
                                        into destination: UnsafeMutableRawBufferPointer) {
        let layout = QuantLayout.q4P16B32(rows: rows, columns: columns)!
        precondition(weights.count == rows * columns && destination.count == layout.byteSize)
        destination.initializeMemory(as: UInt8.self, repeating: 0)
        let blocks = layout.paddedColumns / 32
        // Padded rows and columns must decode to 0: nibble 8 with scale 0.
        for panelIndex in 0..<(layout.paddedRows / 16) {
            for block in 0..<blocks {
                let base = panelIndex * layout.stride + block * QuantLayout.q4BlockBytes
                for byte in 0..<256 { destination[base + byte] = 0x88 }
            }
        }
        var nibbles = [UInt8](repeating: 8, count: 32)
        for row in 0..<rows {
            let panel = layout.stride * (row / 16), r = row % 16
            for block in 0..<blocks {
                let start = block * 32, end = Swift.min(columns, start + 32)
                var extreme: Float = 0
                for column in start..<end where abs(weights[row * columns + column]) > abs(extreme) {
                    extreme = weights[row * columns + column]
                }
                let scale = extreme / -8
                for j in 0..<32 {
                    let column = start + j
                    if column < end, scale != 0 {
                        let q = round(weights[row * columns + column] / scale) + 8
                        nibbles[j] = UInt8(Swift.max(0, Swift.min(15, q)))
                    } else {
                        nibbles[j] = 8
                    }
                }
                let base = panel + block * QuantLayout.q4BlockBytes
                for group in 0..<4 {
                    for j in 0..<4 {
                        let low = nibbles[8 * group + j], high = nibbles[8 * group + 4 + j]
                        destination[base + 64 * group + 4 * r + j] = low | (high << 4)
                    }
                }
                destination.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: base + 256 + 4 * r, as: UInt32.self)
            }
        }
    }

    // MARK: Q8_P16B32

    /// int8 weights with one f32 scale per row per 32-column block (Formats/prm-v1.md §6.2/§6.3 style):
    /// panel p, block b is 576 bytes at `p·S + 576·b` (`S = (Kp/32)·576`): 8 groups of 16 rows × 4
    /// columns (`byte[64g + 4r + j] = q[16p+r][32b + 4g + j]`), then the 16 rows' f32 scales.
    public static func quantizeQ8P16B32(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns: Int,
                                        into destination: UnsafeMutableRawBufferPointer) {
        let layout = QuantLayout.q8P16B32(rows: rows, columns: columns)!
        precondition(weights.count == rows * columns && destination.count == layout.byteSize)
        destination.initializeMemory(as: UInt8.self, repeating: 0)
        let blocks = layout.paddedColumns / 32
        for row in 0..<rows {
            let panel = layout.stride * (row / 16), r = row % 16
            for block in 0..<blocks {
                let start = row * columns + block * 32, end = row * columns + Swift.min(columns, block * 32 + 32)
                let source = UnsafeBufferPointer(rebasing: weights[start..<end])
                let scale = rowScale(source)
                let base = panel + block * QuantLayout.q8BlockBytes
                for (j, value) in source.enumerated() {
                    destination.storeBytes(of: quantize8(value, scale), toByteOffset: base + 64 * (j / 4) + 4 * r + j % 4, as: Int8.self)
                }
                destination.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: base + 512 + 4 * r, as: UInt32.self)
            }
        }
    }

    // MARK: Reference dequantization

    /// Decodes any stored tensor back to f32 in its logical row-major shape. This is the scalar
    /// definition of every layout; tests and the runtime's reference path use it.
    public static func dequantize(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) -> [Float] {
        let count = shape.reduce(1, *)
        var output = [Float](repeating: 0, count: count)
        switch dtype {
        case .f32:
            for i in 0..<count { output[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<count { output[i] = f16BitsToF32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            for i in 0..<count { output[i] = bf16BitsToF32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .q8Rows:
            let (rows, columns) = (shape[0], shape[1])
            let layout = QuantLayout.q8Rows(rows: rows, columns: columns)!
            for row in 0..<rows {
                let scale = loadF32(bytes, 4 * row)
                for column in 0..<columns {
                    output[row * columns + column] = scale * Float(bytes.load(fromByteOffset: layout.stride + row * columns + column, as: Int8.self))
                }
            }
        case .q8P16:
            let (rows, columns) = (shape[0], shape[1])
            let layout = QuantLayout.q8P16(rows: rows, columns: columns)!
            for row in 0..<rows {
                let panel = layout.stride * (row / 16), r = row % 16
                let scale = loadF32(bytes, panel + 16 * layout.paddedColumns + 4 * r)
                for column in 0..<columns {
                    let q = bytes.load(fromByteOffset: panel + 64 * (column / 4) + 4 * r + column % 4, as: Int8.self)
                    output[row * columns + column] = scale * Float(q)
                }
            }
        case .q8P16B32:
            let (rows, columns) = (shape[0], shape[1])
            let layout = QuantLayout.q8P16B32(rows: rows, columns: columns)!
            for row in 0..<rows {
                let panel = layout.stride * (row / 16), r = row % 16
                for column in 0..<columns {
                    let base = panel + (column / 32) * QuantLayout.q8BlockBytes, within = column % 32
                    let q = bytes.load(fromByteOffset: base + 64 * (within / 4) + 4 * r + within % 4, as: Int8.self)
                    output[row * columns + column] = loadF32(bytes, base + 512 + 4 * r) * Float(q)
                }
            }
        case .q4P16B32:
            let (rows, columns) = (shape[0], shape[1])
            let layout = QuantLayout.q4P16B32(rows: rows, columns: columns)!
            for row in 0..<rows {
                let panel = layout.stride * (row / 16), r = row % 16
                for column in 0..<columns {
                    let block = column / 32, within = column % 32, group = within / 8, j = within % 8
                    let base = panel + block * QuantLayout.q4BlockBytes
                    let byte = bytes[base + 64 * group + 4 * r + j % 4]
                    let nibble = j < 4 ? byte & 0x0F : byte >> 4
                    let scale = loadF32(bytes, base + 256 + 4 * r)
                    output[row * columns + column] = scale * Float(Int(nibble) - 8)
                }
            }
        }
        return output
    }

    @inline(__always)
    static func loadF32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
    }
}
