/// Paths of output files still being written, removed if the process is interrupted, so an
/// interrupted conversion leaves nothing behind. Signal handlers may only call async-signal-safe
/// functions, so the paths are kept as preallocated C strings.
enum TemporaryFiles {
    nonisolated(unsafe) private static var paths: [UnsafeMutablePointer<CChar>?] = Array(repeating: nil, count: 16)
    nonisolated(unsafe) private static var installed = false
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        return lock
    }()

    static func register(_ path: String) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if !installed {
            installed = true
            for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
                signal(signalNumber) { received in
                    for slot in TemporaryFiles.paths { if let slot { unlink(slot) } }
                    signal(received, SIG_DFL)
                    raise(received)
                }
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
