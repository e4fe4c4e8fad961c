import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file operations the caches need, with errors that name the path.
public enum FileSystem {
    public static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw StoreError(.cacheIO, "cannot create the folder \(path): \(error.localizedDescription); check its permissions or point the cache elsewhere (HF_HUB_CACHE, PAIRRM_CACHE)")
        }
    }

    /// Writes through a uniquely named temporary file in the same folder, then renames it, so a
    /// reader never sees half a file.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = "\(path).tmp.\(getpid()).\(UInt32.random(in: 0 ... .max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StoreError(.cacheIO, "cannot write \(temporary): \(String(cString: strerror(errno))); check that the folder is writable")
        }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw StoreError(.cacheIO, "cannot write \(path): \(reason); check free space and permissions")
        }
    }

    public static func isDirectory(_ path: String) -> Bool {
        var flag: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
    }

    public static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Size of a regular file (following links), or nil.
    public static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    /// Bytes of the regular files under `path` (links not followed, so blobs count once).
    public static func diskUsage(_ path: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: Int64 = 0
        while let relative = walker.nextObject() as? String {
            var info = stat()
            if lstat(path + "/" + relative, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { total += Int64(info.st_size) }
        }
        return total
    }
}

/// An exclusive advisory lock on a file (flock), held until `release` or deinit, so that two
/// processes never write the same cache entry at once. The lock dies with the process.
public final class FileLock {
    private var fd: Int32

    /// Blocks until the lock is free; `waiting` is called once if another process holds it.
    public init(path: String, waiting: (() -> Void)? = nil) throws {
        try FileSystem.createDirectory((path as NSString).deletingLastPathComponent)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StoreError(.cacheIO, "cannot open the lock file \(path): \(String(cString: strerror(errno))); check that the cache folder is writable")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            waiting?()
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    throw StoreError(.cacheIO, "cannot lock \(path): \(reason)")
                }
            }
        }
    }

    public func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
