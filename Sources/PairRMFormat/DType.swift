import PairRMKernels
/// Element encodings of a tensor in the container (Formats/prm-v1.md §6).
public enum DType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case bf16 = 2
    /// int8 rows + one f32 scale per row, for row lookups (embeddings).
    case q8Rows = 16
    /// int8 16-row panels, 4-column groups, per-row f32 scale and int32 row sum.
    case q8P16 = 17
    /// int4 16-row panels, per-row f32 scale for every 32 columns.
    case q4P16B32 = 18
    /// int8 16-row panels, 4-column groups, per-row f32 scale for every 32 columns (for the
    /// int16-activation GEMM).
    case q8P16B32 = 19

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .q8Rows: "Q8_ROWS"
        case .q8P16: "Q8_P16"
        case .q4P16B32: "Q4_P16B32"
        case .q8P16B32: "Q8_P16B32"
        }
    }

    public init?(name: String) {
        guard let match = DType.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }

    public var isQuantized: Bool { rawValue >= 16 }

    /// Bytes a tensor of this type and logical shape occupies, or nil when the shape does not
    /// suit the type or the size overflows.
    public func byteSize(shape: [Int]) -> Int? {
        guard !shape.isEmpty, shape.allSatisfy({ $0 >= 0 }) else { return nil }
        switch self {
        case .f32, .f16, .bf16:
            var elements = 1
            for dimension in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                if overflow { return nil }
                elements = product
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: self == .f32 ? 4 : 2)
            return overflow ? nil : bytes
        case .q8Rows:
            guard shape.count == 2 else { return nil }
            return QuantLayout.q8Rows(rows: shape[0], columns: shape[1])?.byteSize
        case .q8P16:
            guard shape.count == 2 else { return nil }
            return QuantLayout.q8P16(rows: shape[0], columns: shape[1])?.byteSize
        case .q4P16B32:
            guard shape.count == 2 else { return nil }
            return QuantLayout.q4P16B32(rows: shape[0], columns: shape[1])?.byteSize
        case .q8P16B32:
            guard shape.count == 2 else { return nil }
            return QuantLayout.q8P16B32(rows: shape[0], columns: shape[1])?.byteSize
        }
    }
}

/// Offsets and strides of the quantized layouts, computed once and shared by the quantizer, the
/// reader's size check and the kernels (Formats/prm-v1.md §6.1–6.3).
public struct QuantLayout: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    /// Rows rounded up to the panel height (16) — or `rows` for Q8_ROWS.
    public var paddedRows: Int
    /// Columns rounded up to the group (4) or block (32) width — or `columns` for Q8_ROWS.
    public var paddedColumns: Int
    /// Bytes from one panel to the next (Q8_P16, Q4_P16B32, Q8_P16B32); for Q8_ROWS the offset of the int8 rows.
    public var stride: Int
    public var byteSize: Int

    // The block layouts are defined once, in C (PairRMKernels/include/pairrm_layouts.h, with a
    // static assert per block size), and read here, so the writer and the kernels cannot drift.
    public static let panelRows = Int(PRM_PANEL_ROWS)
    public static let groupColumns = Int(PRM_GROUP_COLUMNS)
    public static let blockColumns = Int(PRM_BLOCK_COLUMNS)
    public static let q4BlockBytes = Int(PRM_Q4_P16B32_BLOCK_BYTES)
    /// One Q8_P16B32 block: 8 groups of 16 × 4 int8 (512 bytes), then 16 f32 scales.
    public static let q8BlockBytes = Int(PRM_Q8_P16B32_BLOCK_BYTES)

    /// Checked arithmetic for everything below; nil means the dimensions are absurd.
    private static func product(_ values: Int...) -> Int? {
        var result = 1
        for value in values {
            guard value >= 0 else { return nil }
            let (next, overflow) = result.multipliedReportingOverflow(by: value)
            if overflow { return nil }
            result = next
        }
        return result
    }

    private static func roundUp(_ value: Int, _ multiple: Int) -> Int? {
        guard value >= 0 else { return nil }
        return alignUp(value, multiple)
    }

    public static func q8Rows(rows: Int, columns: Int) -> QuantLayout? {
        guard let scaleBytes = product(rows, 4), let scaleArea = roundUp(scaleBytes, 64),
              let body = product(rows, columns) else { return nil }
        let (size, overflow) = scaleArea.addingReportingOverflow(body)
        if overflow { return nil }
        return QuantLayout(rows: rows, columns: columns, paddedRows: rows, paddedColumns: columns,
                           stride: scaleArea, byteSize: size)
    }

    public static func q8P16(rows: Int, columns: Int) -> QuantLayout? {
        guard let np = roundUp(rows, panelRows), let kp = roundUp(columns, groupColumns),
              let body = product(16, kp) else { return nil }
        let (stride, o1) = body.addingReportingOverflow(128)
        if o1 { return nil }
        guard let size = product(np / panelRows, stride) else { return nil }
        return QuantLayout(rows: rows, columns: columns, paddedRows: np, paddedColumns: kp, stride: stride, byteSize: size)
    }

    public static func q4P16B32(rows: Int, columns: Int) -> QuantLayout? {
        guard let np = roundUp(rows, panelRows), let kp = roundUp(columns, blockColumns),
              let stride = product(kp / blockColumns, q4BlockBytes),
              let size = product(np / panelRows, stride) else { return nil }
        return QuantLayout(rows: rows, columns: columns, paddedRows: np, paddedColumns: kp, stride: stride, byteSize: size)
    }

    public static func q8P16B32(rows: Int, columns: Int) -> QuantLayout? {
        guard let np = roundUp(rows, panelRows), let kp = roundUp(columns, blockColumns),
              let stride = product(kp / blockColumns, q8BlockBytes),
              let size = product(np / panelRows, stride) else { return nil }
        return QuantLayout(rows: rows, columns: columns, paddedRows: np, paddedColumns: kp, stride: stride, byteSize: size)
    }
}
