import PairRMKernels

/// XXH64 (seed 0), the container's checksum.
public func xxh64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    prm_xxh64(bytes.baseAddress, bytes.count, 0)
}

public func xxh64(_ bytes: [UInt8]) -> UInt64 {
    bytes.withUnsafeBytes { xxh64($0) }
}

/// Streaming XXH64 for data written or verified in pieces.
public struct XXH64Stream {
    private var state = prm_xxh64_state()

    public init() { prm_xxh64_init(&state, 0) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        prm_xxh64_update(&state, bytes.baseAddress, bytes.count)
    }

    public var digest: UInt64 {
        var copy = state
        return prm_xxh64_digest(&copy)
    }
}

/// Streaming SHA-256, for provenance (the digest the Hugging Face hub lists for LFS files).
public struct SHA256Stream {
    private var state = prm_sha256_state()

    public init() { prm_sha256_init(&state) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        prm_sha256_update(&state, bytes.baseAddress, bytes.count)
    }

    /// SHA-256 of a whole file, read in 8 MiB blocks; nil when it cannot be opened or read.
    public static func hexDigest(ofFile path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var hash = SHA256Stream()
        var block = [UInt8](repeating: 0, count: 8 << 20)
        while true {
            let count = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return hash.finalizeHex() }
            block.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    public mutating func finalizeHex() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBufferPointer { prm_sha256_final(&state, $0.baseAddress) }
        let hex: [Character] = Array("0123456789abcdef")
        var text = ""
        text.reserveCapacity(64)
        for byte in digest {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 15)])
        }
        return text
    }
}
