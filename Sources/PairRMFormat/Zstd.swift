import CZstd

/// zstd through Debian's libzstd, with every size claim checked: a frame must state its content
/// size, that size must equal what the section table promises, and decoding must produce exactly
/// that many bytes from exactly the stored bytes.
public enum Zstd {
    public static let defaultLevel: Int32 = 3
    public static var maxLevel: Int32 { ZSTD_maxCLevel() }

    static func errorName(_ code: Int) -> String { String(cString: ZSTD_getErrorName(code)) }

    /// One-shot compression of a small buffer (metadata-sized sections).
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = defaultLevel) throws -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compress(out.baseAddress, bound, input.baseAddress, input.count, level)
        }
        guard ZSTD_isError(written) == 0 else {
            throw FormatError(.io, file: "<memory>", field: "zstd", problem: "compression failed: \(errorName(written))",
                              fix: "report this as a bug")
        }
        output.removeSubrange(written...)
        return output
    }

    /// Decodes one complete zstd frame that states its content size (as the `zstd` command
    /// writes them), refusing frames that claim more than `maxSize` bytes.
    public static func decompressFrame(_ input: [UInt8], maxSize: Int = 1 << 30, file: String) throws -> [UInt8] {
        let claimed = input.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        guard claimed < UInt64(maxSize) else {
            throw FormatError(.decompression, file: file, field: "(zstd frame)",
                              problem: claimed >= UInt64.max - 1 ? "not a zstd frame with a stated content size" : "the frame claims \(claimed) bytes, over the \(maxSize) allowed",
                              fix: "compress the file with the zstd command (which records the size)")
        }
        var output = [UInt8](repeating: 0, count: Int(claimed))
        try input.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { try decompress(source, into: $0, file: file, field: "(zstd frame)") }
        }
        return output
    }

    /// Decodes one complete zstd frame of exactly `expectedSize` bytes into `destination`.
    public static func decompress(_ input: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                                  file: String, field: String) throws {
        func fail(_ problem: String) -> FormatError {
            FormatError(.decompression, file: file, field: field, problem: problem, fix: reconvertFix)
        }
        let expectedSize = destination.count
        let claimed = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        // ZSTD_CONTENTSIZE_UNKNOWN / _ERROR are the two largest UInt64 values.
        guard claimed != UInt64.max, claimed != UInt64.max - 1 else {
            throw fail(claimed == UInt64.max ? "not a zstd frame" : "the zstd frame does not state its content size")
        }
        guard claimed == UInt64(expectedSize) else {
            throw fail("the zstd frame claims \(claimed) bytes but the section table says \(expectedSize)")
        }
        let frameSize = ZSTD_findFrameCompressedSize(input.baseAddress, input.count)
        guard ZSTD_isError(frameSize) == 0 else { throw fail("corrupt zstd frame: \(errorName(frameSize))") }
        guard frameSize == input.count else {
            throw fail("the zstd frame is \(frameSize) bytes but the section stores \(input.count)")
        }
        // Streaming decompression never writes past `destination`, whatever the frame says.
        guard let stream = ZSTD_createDStream() else { throw fail("out of memory creating a zstd decoder") }
        defer { ZSTD_freeDStream(stream) }
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var outBuffer = ZSTD_outBuffer(dst: destination.baseAddress, size: destination.count, pos: 0)
        while true {
            let result = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
            guard ZSTD_isError(result) == 0 else { throw fail("corrupt zstd data: \(errorName(result))") }
            if result == 0 { break }  // frame complete
            if inBuffer.pos == inBuffer.size && outBuffer.pos == outBuffer.size {
                throw fail("the zstd frame holds more than the \(expectedSize) bytes it claims")
            }
            if inBuffer.pos == inBuffer.size {
                throw fail("the zstd frame ends early: \(outBuffer.pos) of \(expectedSize) bytes decoded")
            }
        }
        guard outBuffer.pos == expectedSize, inBuffer.pos == inBuffer.size else {
            throw fail("decoded \(outBuffer.pos) of \(expectedSize) bytes using \(inBuffer.pos) of \(input.count) stored bytes")
        }
    }
}

/// Streams data into one zstd frame whose content size is declared up front.
final class ZstdFrameWriter {
    private let context: OpaquePointer
    private var output: [UInt8]

    init(level: Int32, pledgedSize: UInt64, threads: Int) throws {
        guard let context = ZSTD_createCCtx() else {
            throw FormatError(.io, file: "<memory>", field: "zstd", problem: "out of memory creating a zstd encoder", fix: "free memory and retry")
        }
        self.context = context
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)
        if threads > 1 {
            // Ignored (returns an error code) by a libzstd built without threads: fine, just slower.
            _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(threads))
        }
        ZSTD_CCtx_setPledgedSrcSize(context, pledgedSize)
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input`, handing each produced chunk to `sink`.
    func write(_ input: UnsafeRawBufferPointer, finish: Bool, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        let mode = finish ? ZSTD_e_end : ZSTD_e_continue
        while true {
            let remaining: Int = try output.withUnsafeMutableBytes { out in
                var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let result = ZSTD_compressStream2(context, &outBuffer, &inBuffer, mode)
                guard ZSTD_isError(result) == 0 else {
                    throw FormatError(.io, file: "<output>", field: "zstd", problem: "compression failed: \(Zstd.errorName(result))",
                                      fix: "check that the input sizes were planned correctly; report this as a bug")
                }
                if outBuffer.pos > 0 { try sink(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<outBuffer.pos])) }
                return result
            }
            if finish ? remaining == 0 : inBuffer.pos == inBuffer.size { break }
        }
    }
}
