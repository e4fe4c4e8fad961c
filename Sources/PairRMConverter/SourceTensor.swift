#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The element types a hub checkpoint may store weights in. Anything else (I64, F64, BOOL...)
/// is rejected when the checkpoint is opened, naming the tensor.
public enum SourceDType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"

    public var byteSize: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        }
    }

    /// For error messages: "F32, F16, BF16".
    static let supportedList = allCases.map(\.rawValue).joined(separator: ", ")
}

/// One weight tensor as described by a checkpoint, before any bytes are read.
public struct SourceTensor: Sendable, Equatable {
    public var name: String
    public var dtype: SourceDType
    /// Row-major dimensions; `[]` is a scalar.
    public var shape: [Int]
    public var elementCount: Int
    /// `elementCount * dtype.byteSize`, checked for overflow when the checkpoint was opened.
    public var byteCount: Int

    public init(name: String, dtype: SourceDType, shape: [Int], elementCount: Int, byteCount: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.elementCount = elementCount
        self.byteCount = byteCount
    }
}

/// A checkpoint whose tensors can be streamed one at a time (safetensors, PyTorch zip).
public protocol CheckpointWeights: AnyObject {
    /// The file, for error messages.
    var path: String { get }
    /// In file order.
    var tensors: [SourceTensor] { get }
    /// Decode one tensor to Float32 into `destination` (count == elementCount).
    /// Streams: reads only that tensor's bytes.
    func readFloat32(_ tensor: SourceTensor, into destination: UnsafeMutableBufferPointer<Float>) throws
    /// Hint that the tensor's bytes are no longer needed (e.g. madvise DONTNEED on a mapping)
    /// so a streaming conversion never holds the whole model in memory.
    func release(_ tensor: SourceTensor)
}

// MARK: - Exact widening to Float32

/// IEEE binary16 → binary32, exact for every bit pattern (subnormals, ±inf, NaN payloads).
///
/// Shifting the 15 exponent+mantissa bits into float position gives a float whose value is
/// the half value scaled by 2^-112 (the bias difference 127 − 15); multiplying by 2^112 undoes
/// that exactly, and also normalises half subnormals, which land on float subnormals.
/// Inf/NaN (exponent all ones) just get the float all-ones exponent, keeping the payload.
@inline(__always)
public func float32(fromFloat16Bits h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let magnitude = UInt32(h & 0x7FFF) << 13
    let bits: UInt32
    if magnitude >= 0x0F80_0000 {          // half exponent 31: inf or NaN
        bits = magnitude | 0x7F80_0000
    } else {
        bits = (Float(bitPattern: magnitude) * 0x1p112).bitPattern
    }
    return Float(bitPattern: bits | sign)
}

/// bfloat16 is the top half of a binary32, so widening is a shift.
@inline(__always)
public func float32(fromBFloat16Bits b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

extension SourceDType {
    /// Decode `destination.count` little-endian elements starting at `source` (any alignment).
    /// The caller has checked that `source` holds `destination.count * byteSize` bytes.
    func decodeLittleEndian(_ source: UnsafeRawPointer, into destination: UnsafeMutableBufferPointer<Float>) {
        guard let out = destination.baseAddress, destination.count > 0 else { return }
        let count = destination.count
        switch self {
        case .f32:
            #if _endian(little)
            memcpy(out, source, count * 4)
            #else
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
        case .f16:
            for i in 0..<count {
                out[i] = float32(fromFloat16Bits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .bf16:
            for i in 0..<count {
                out[i] = float32(fromBFloat16Bits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        }
    }
}

// MARK: - Overflow-checked sizes

/// Product of dimensions, nil on overflow or a negative dimension.
func checkedElementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dim in shape {
        guard dim >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dim)
        if overflow { return nil }
        count = product
    }
    return count
}

// MARK: - Read-only file mapping shared by the checkpoint readers

/// A whole file mapped read-only. Checkpoints are multi-GB, so tensors are decoded straight
/// from the mapping and their pages dropped again with `dropPages` once converted.
final class CheckpointMapping {
    let path: String
    let base: UnsafeRawPointer?
    let size: Int

    /// Opens and maps `path`. An empty file maps to `base == nil`, `size == 0`.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            let reason = String(cString: strerror(code))
            if code == ENOENT {
                throw ConversionError(.missingFile, file: path, field: "file",
                                      problem: "the file does not exist",
                                      fix: "check the path, or download the checkpoint again")
            }
            throw ConversionError(.unreadableFile, file: path, field: "file",
                                  problem: "cannot open the file (\(reason))",
                                  fix: "check the file's permissions and that it is a regular file")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ConversionError(.unreadableFile, file: path, field: "file",
                                  problem: "cannot stat the file (\(String(cString: strerror(errno))))",
                                  fix: "check that the file is readable")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ConversionError(.unreadableFile, file: path, field: "file",
                                  problem: "not a regular file",
                                  fix: "pass the checkpoint file itself, not a directory or device")
        }
        guard let fileSize = Int(exactly: info.st_size), fileSize >= 0 else {
            throw ConversionError(.unreadableFile, file: path, field: "file",
                                  problem: "the file size \(info.st_size) is not addressable",
                                  fix: "use a 64-bit host")
        }
        size = fileSize
        if fileSize == 0 {
            base = nil
            return
        }
        let mapped = mmap(nil, fileSize, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw ConversionError(.unreadableFile, file: path, field: "file",
                                  problem: "cannot memory-map the file (\(String(cString: strerror(errno))))",
                                  fix: "check free address space and that the file system supports mmap")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// Bytes `[offset, offset + count)`, or nil if the range is not inside the file.
    func bytes(at offset: Int, count: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, count >= 0 else { return nil }
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= size else { return nil }
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + offset, count: count)
    }

    /// Tell the kernel the pages covering `[offset, offset + count)` can be dropped; a later
    /// read faults them back in from the file, so this is only ever a memory hint.
    func dropPages(at offset: Int, count: Int) {
        guard let base, count > 0, offset >= 0, offset < size else { return }
        let page = max(Int(sysconf(Int32(_SC_PAGESIZE))), 1)
        let start = offset / page * page
        let end = min(size, offset + min(count, size - offset))
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }
}

/// A checkpoint whose tensors are byte ranges of one memory-mapped file (safetensors, and the
/// stored members of a PyTorch zip): reading and releasing work the same for both.
protocol MappedCheckpoint: CheckpointWeights {
    var mapping: CheckpointMapping { get }
    /// Each tensor with the absolute file offset of its first byte, by name.
    var index: [String: (tensor: SourceTensor, offset: Int)] { get }
    /// How error messages name a tensor's field ("header.tensor" for safetensors).
    var tensorField: String { get }
}

extension MappedCheckpoint {
    public func readFloat32(_ tensor: SourceTensor, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard destination.count == tensor.elementCount else {
            throw ConversionError(.wrongShape, file: path, field: "tensor '\(tensor.name)'",
                                  problem: "destination holds \(destination.count) floats but the tensor has \(tensor.elementCount) elements",
                                  fix: "allocate elementCount floats for the tensor (converter bug)")
        }
        guard let (known, offset) = index[tensor.name], known == tensor else {
            throw ConversionError(.missingTensor, file: path, field: "\(tensorField) '\(tensor.name)'",
                                  problem: "no such tensor in this file (or its description differs)",
                                  fix: "pass a SourceTensor taken from this file's `tensors` (converter bug)")
        }
        guard tensor.byteCount > 0 else { return }
        guard let bytes = mapping.bytes(at: offset, count: tensor.byteCount), let base = bytes.baseAddress else {
            throw ConversionError(.offsetOutOfRange, file: path, field: "\(tensorField) '\(tensor.name)'",
                                  problem: "the tensor's bytes are outside the file",
                                  fix: "the file changed since it was opened; download it again")
        }
        tensor.dtype.decodeLittleEndian(base, into: destination)
    }

    public func release(_ tensor: SourceTensor) {
        guard let (_, offset) = index[tensor.name] else { return }
        mapping.dropPages(at: offset, count: tensor.byteCount)
    }
}
