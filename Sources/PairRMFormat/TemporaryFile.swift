/// Paths of output files still being written, removed if the process is interrupted, so an
/// interrupted conversion leaves nothing behind. Signal handlers may only call async-signal-safe
/// functions, so the paths are kept as preallocated C strings.
enum TemporaryFiles {
    nonisolated(unsafe) private static var paths: [UnsafeMutablePointer<CChar>?] = Array(repeating: nil, count: 16)
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        return lock
    }()

    static func register(_ path: String) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        // Installed at every registration, not once: something else in the process (Dispatch
        // signal sources, e.g. a server's graceful-shutdown watch) may have replaced the handlers
        // since, and an interrupted write must still remove its file.
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber) { received in
                for slot in TemporaryFiles.paths { if let slot { unlink(slot) } }
                signal(received, SIG_DFL)
                raise(received)
            }
        }
        if let free = paths.firstIndex(where: { $0 == nil }) { paths[free] = strdup(path) }
    }

    static func unregister(_ path: String) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        for (index, slot) in paths.enumerated() {
            if let slot, String(cString: slot) == path {
                paths[index] = nil
                free(slot)
            }
        }
    }
}

extension TemporaryFiles {
    /// Creates `<destination>.tmp.<pid>` (or, if that name is taken, `<destination>.tmp.<pid>.<n>`)
    /// exclusively and without following links, so a file or symlink planted under the name is
    /// never opened, truncated or written through. Returns the descriptor and the path created.
    static func createExclusive(for destination: String, mode: mode_t = 0o644) -> (descriptor: Int32, path: String)? {
        let base = destination + ".tmp.\(getpid())"
        for attempt in 0..<100 {
            let candidate = attempt == 0 ? base : base + ".\(attempt)"
            let descriptor = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            if descriptor >= 0 { return (descriptor, candidate) }
            if errno == EEXIST || errno == ELOOP { continue }  // taken: try the next suffix
            return nil
        }
        errno = EEXIST
        return nil
    }

    /// The pid in a temporary name of `destination` (`<name>.tmp.<pid>` or `<name>.tmp.<pid>.<n>`),
    /// nil for any other name.
    static func temporaryPID(_ entry: String, destinationName: String) -> Int? {
        let prefix = destinationName + ".tmp."
        guard entry.hasPrefix(prefix) else { return nil }
        let parts = entry.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else {
            return nil
        }
        return Int(parts[0]) ?? Int.max  // too many digits for a pid: no process can have it
    }

    /// Removes temporaries of `destination` left by conversions that were killed (SIGKILL, power
    /// loss): regular files owned by this user whose pid names no live process (`kill(pid, 0)`
    /// fails with ESRCH). A live process's temporary — including this process's — is never
    /// touched, nor is anything that is not a regular file. Returns the paths removed.
    @discardableResult
    static func removeStale(of destination: String) -> [String] {
        let slash = destination.lastIndex(of: "/")
        let directory = slash.map { destination[..<$0].isEmpty ? "/" : String(destination[..<$0]) } ?? "."
        let name = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        guard !name.isEmpty, let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var removed: [String] = []
        while let item = readdir(stream) {
            let entry = withUnsafePointer(to: item.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            guard let pid = temporaryPID(entry, destinationName: name), pid != Int(getpid()) else { continue }
            if pid <= Int(Int32.max) {
                guard pid > 1, kill(pid_t(pid), 0) != 0, errno == ESRCH else { continue }  // alive, or not ours to judge
            }
            let path = directory == "/" ? "/" + entry : directory + "/" + entry
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid() else { continue }
            if unlink(path) == 0 { removed.append(path) }
        }
        return removed
    }
}
