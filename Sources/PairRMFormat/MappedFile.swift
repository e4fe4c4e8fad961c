/// A whole file mapped read-only. The mapping is what makes raw tensors zero-copy: the kernels
/// read weights straight from the page cache.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeMutableRawPointer?

    public init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason = errnoText()
            throw FormatError(.io, file: path, field: "open", problem: "cannot open: \(reason)",
                              fix: "check the path and its permissions")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw FormatError(.io, file: path, field: "stat", problem: "cannot stat: \(errnoText())", fix: "check the file")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw FormatError(.io, file: path, field: "open", problem: "is not a regular file", fix: "pass the path of a .prm file")
        }
        let size = Int(status.st_size)
        if size == 0 {
            mapping = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), address != MAP_FAILED else {
            throw FormatError(.io, file: path, field: "mmap", problem: "cannot map \(size) bytes: \(errnoText())",
                              fix: "check free address space and that the file is on a local filesystem")
        }
        mapping = address
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    /// The whole file read into a 64-byte-aligned buffer (LoadOptions.readIntoMemory): later
    /// changes to the file cannot affect it. Refuses anything but a regular file, and a file that
    /// changes size while it is read.
    public static func readWhole(path: String) throws -> AlignedBuffer {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw FormatError(.io, file: path, field: "open", problem: "cannot open: \(errnoText())",
                              fix: "check the path and its permissions")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw FormatError(.io, file: path, field: "open", problem: "is not a regular file", fix: "pass the path of a .prm file")
        }
        let buffer = AlignedBuffer(count: Int(status.st_size))
        var done = 0
        while done < buffer.count {
            let count = read(descriptor, buffer.pointer + done, min(buffer.count - done, 1 << 30))
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                throw FormatError(.io, file: path, field: "read",
                                  problem: count < 0 ? "cannot read: \(errnoText())" : "the file shrank to \(done) bytes while it was read",
                                  fix: "do not rewrite the file while loading it (replace it by renaming a new file over it)")
            }
            done += count
        }
        return buffer
    }

    /// Tells the kernel we are done with a range for now (after hashing it), so verifying the whole
    /// file does not leave it all resident. The pages come back from the page cache on next use.
    public func release(_ range: Range<Int>) {
        guard let mapping else { return }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + pageSize - 1) / pageSize * pageSize
        let end = range.upperBound / pageSize * pageSize
        if end > start { _ = madvise(mapping + start, end - start, MADV_DONTNEED) }
    }

    deinit {
        if let mapping { munmap(mapping, bytes.count) }
    }
}
