// Plumbing of the C ABI: thread-local error text, the handle registry, argument decoding.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PairRMCABIHeader
import PairRM
import PairRMFormat
import PairRMConverter
import PairRMRuntime
import PairRMStore
import PairRMTokenizer

let libraryVersion = PairRMVersion.string

/// A failure with its C status code.
struct CError: Error {
    var status: pairrm_status
    var message: String
    init(_ status: Int32, _ message: String) {
        self.status = pairrm_status(status)
        self.message = message
    }
}

// MARK: - Thread-local last error

/// One malloc'd C string per thread (freed by the key's destructor when the thread exits).
enum LastError {
    static let key: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { free($0) }
        precondition(rc == 0, "pthread_key_create failed")
        return key
    }()

    nonisolated(unsafe) static let empty: UnsafeMutablePointer<CChar> = strdup("")!

    static func set(_ message: String) {
        let old = pthread_getspecific(key)
        pthread_setspecific(key, strdup(message))
        free(old)
    }

    static func clear() {
        if let old = pthread_getspecific(key) {
            pthread_setspecific(key, nil)
            free(old)
        }
    }

    static var current: UnsafePointer<CChar> {
        if let p = pthread_getspecific(key) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
        return UnsafePointer(empty)
    }
}

/// Static C strings that live as long as the process (status names, version).
enum StaticStrings {
    nonisolated(unsafe) static let version: UnsafeMutablePointer<CChar> = strdup(libraryVersion)!
    nonisolated(unsafe) static let names: [Int32: UnsafeMutablePointer<CChar>] = {
        let table: [(Int32, String)] = [
            (Int32(PAIRRM_OK), "PAIRRM_OK"),
            (Int32(PAIRRM_ERR_INVALID_ARGUMENT), "PAIRRM_ERR_INVALID_ARGUMENT"),
            (Int32(PAIRRM_ERR_INVALID_UTF8), "PAIRRM_ERR_INVALID_UTF8"),
            (Int32(PAIRRM_ERR_BUFFER_TOO_SMALL), "PAIRRM_ERR_BUFFER_TOO_SMALL"),
            (Int32(PAIRRM_ERR_INVALID_HANDLE), "PAIRRM_ERR_INVALID_HANDLE"),
            (Int32(PAIRRM_ERR_IO), "PAIRRM_ERR_IO"),
            (Int32(PAIRRM_ERR_INVALID_MODEL), "PAIRRM_ERR_INVALID_MODEL"),
            (Int32(PAIRRM_ERR_INPUT_TOO_LONG), "PAIRRM_ERR_INPUT_TOO_LONG"),
            (Int32(PAIRRM_ERR_INVALID_CONVERSATION), "PAIRRM_ERR_INVALID_CONVERSATION"),
            (Int32(PAIRRM_ERR_NOT_FOUND), "PAIRRM_ERR_NOT_FOUND"),
            (Int32(PAIRRM_ERR_INTERNAL), "PAIRRM_ERR_INTERNAL"),
        ]
        var names: [Int32: UnsafeMutablePointer<CChar>] = [:]
        for (code, name) in table { names[code] = strdup(name)! }
        return names
    }()
    nonisolated(unsafe) static let unknown: UnsafeMutablePointer<CChar> = strdup("PAIRRM_ERR_UNKNOWN")!
}

/// Runs one C entry point: clears the thread's error, maps every thrown error to a status and
/// a message prefixed with the function name. Never lets a Swift error escape.
func guarded(_ function: String, _ body: () throws -> Void) -> pairrm_status {
    do {
        try body()
        LastError.clear()
        return pairrm_status(PAIRRM_OK)
    } catch {
        let (status, message) = describe(error)
        LastError.set("\(function): \(message)")
        return status
    }
}

func describe(_ error: any Error) -> (pairrm_status, String) {
    func code(_ value: Int32) -> pairrm_status { pairrm_status(value) }
    switch error {
    case let error as CError:
        return (error.status, error.message)
    case let error as PairRMError:
        switch error.kind {
        case .invalidArgument: return (code(Int32(PAIRRM_ERR_INVALID_ARGUMENT)), error.description)
        case .invalidConversation: return (code(Int32(PAIRRM_ERR_INVALID_CONVERSATION)), error.description)
        case .inputTooLong: return (code(Int32(PAIRRM_ERR_INPUT_TOO_LONG)), error.description)
        case .unsupportedModel, .nonFiniteResult: return (code(Int32(PAIRRM_ERR_INVALID_MODEL)), error.description)
        }
    case let error as FormatError:
        return (code(Int32(error.kind == .io ? PAIRRM_ERR_IO : PAIRRM_ERR_INVALID_MODEL)), error.description)
    case let error as RuntimeError:
        return (code(Int32(error.kind == .badInput ? PAIRRM_ERR_INVALID_ARGUMENT : PAIRRM_ERR_INVALID_MODEL)), error.description)
    case let error as TokenizerError:
        return (code(Int32(error.kind == .invalidArgument ? PAIRRM_ERR_INVALID_ARGUMENT : PAIRRM_ERR_INVALID_MODEL)), error.description)
    case let error as StoreError:
        return (code(Int32(error.kind == .notACheckpoint ? PAIRRM_ERR_INVALID_MODEL : PAIRRM_ERR_IO)), error.description)
    case let error as ConversionError:
        return (code(Int32(PAIRRM_ERR_INVALID_MODEL)), error.description)
    case let error as BatchItemError:
        let (status, message) = describe(error.underlying)
        return (status, "item \(error.index): \(message)")
    default:
        return (code(Int32(PAIRRM_ERR_INTERNAL)), "unexpected error: \(error)")
    }
}

func invalid(_ message: String) -> CError { CError(Int32(PAIRRM_ERR_INVALID_ARGUMENT), message) }

// MARK: - Handle registry

/// A loaded model behind a C handle.
final class LoadedModel: Sendable {
    let ranker: PairRanker
    init(ranker: PairRanker) { self.ranker = ranker }
}

/// Handles are ids, never pointers to memory: a freed handle is simply absent from the table,
/// so passing it again is detected instead of being a use-after-free, and ids are never
/// reused. Lookups take a read lock and return a strong reference, so `pairrm_model_free`
/// racing with calls in flight is safe (the model dies with the last reference).
final class Registry: @unchecked Sendable {
    static let shared = Registry()
    /// High bits mark our handles; the id sits above the low 4 bits (so handles look aligned).
    static let tag: UInt = 0x5052_0000_0000_0000
    static let idLimit: UInt = 1 << 44

    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    private var models: [UInt: LoadedModel] = [:]
    private var nextID: UInt = 1

    init() {
        lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
        pthread_rwlock_init(lock, nil)
    }

    func insert(_ model: LoadedModel) throws -> OpaquePointer {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        guard nextID < Self.idLimit else { throw CError(Int32(PAIRRM_ERR_INTERNAL), "handle ids exhausted") }
        let id = nextID
        nextID += 1
        models[id] = model
        return OpaquePointer(bitPattern: Self.tag | (id << 4))!
    }

    private static func id(_ handle: OpaquePointer) -> UInt? {
        let bits = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
        guard bits & ~((Self.idLimit - 1) << 4) == Self.tag else { return nil }
        return bits >> 4 & (Self.idLimit - 1)
    }

    func lookup(_ handle: OpaquePointer?) throws -> LoadedModel {
        guard let handle else {
            throw CError(Int32(PAIRRM_ERR_INVALID_HANDLE), "model: is NULL — pass a handle from pairrm_model_load_from_file/_buffer")
        }
        pthread_rwlock_rdlock(lock)
        let found = Self.id(handle).flatMap { models[$0] }
        pthread_rwlock_unlock(lock)
        guard let found else { throw staleHandle(handle) }
        return found
    }

    func remove(_ handle: OpaquePointer) throws {
        pthread_rwlock_wrlock(lock)
        let removed = Self.id(handle).flatMap { models.removeValue(forKey: $0) }
        pthread_rwlock_unlock(lock)
        guard let removed else { throw staleHandle(handle) }
        _ = removed  // released here (or by the last call still holding it)
    }

    private func staleHandle(_ handle: OpaquePointer) -> CError {
        let known = Self.id(handle) != nil
        return CError(Int32(PAIRRM_ERR_INVALID_HANDLE),
                      known ? "model: handle \(handle) was already freed — do not use a model after pairrm_model_free"
                            : "model: \(handle) is not a pairrm_model handle issued by this library")
    }
}

// MARK: - Argument decoding

/// A NUL-terminated UTF-8 argument (`name` is used in messages).
func text(_ pointer: UnsafePointer<CChar>?, _ name: String, nullAsEmpty: Bool = false) throws -> String {
    guard let pointer else {
        if nullAsEmpty { return "" }
        throw invalid("\(name): is NULL — pass a NUL-terminated UTF-8 string")
    }
    let limit = Int(PAIRRM_MAX_TEXT_BYTES)
    let length = strnlen(pointer, limit + 1)
    guard length <= limit else {
        throw invalid("\(name): longer than PAIRRM_MAX_TEXT_BYTES (\(limit) bytes) — shorten it")
    }
    let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: length).bindMemory(to: UInt8.self)
    guard let string = String(validating: bytes, as: UTF8.self) else {
        let offset = firstInvalidUTF8(bytes)
        throw CError(Int32(PAIRRM_ERR_INVALID_UTF8), "\(name): is not valid UTF-8 (first bad byte at offset \(offset)) — pass UTF-8 text")
    }
    return string
}

func firstInvalidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    var offset = 0
    var decoder = UTF8()
    var iterator = bytes.makeIterator()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar): offset += UTF8.width(scalar)
        case .emptyInput: return offset
        case .error: return offset
        }
    }
}

/// `count` strings from a C array of `const char *`.
func texts(_ pointer: UnsafePointer<UnsafePointer<CChar>?>?, _ count: Int, _ name: String) throws -> [String] {
    guard count >= 1 else { throw invalid("n_\(name): is 0 — pass at least one candidate") }
    guard count <= Int(PAIRRM_MAX_CANDIDATES) else {
        throw invalid("n_\(name): \(count) exceeds PAIRRM_MAX_CANDIDATES (\(PAIRRM_MAX_CANDIDATES))")
    }
    guard let pointer else { throw invalid("\(name): is NULL with n_\(name) = \(count)") }
    return try (0..<count).map { try text(pointer[$0], "\(name)[\($0)]") }
}

/// Checks a caller-declared element count (`size_t`) before converting it.
func count(_ value: Int, _ name: String) throws -> Int {
    guard value >= 0 else { throw invalid("\(name): \(UInt(bitPattern: value)) is not a plausible count (negative value cast to size_t?)") }
    return value
}

func compareMode(_ mode: pairrm_compare_mode) throws -> CompareMode {
    switch Int32(mode) {
    case Int32(PAIRRM_COMPARE_BOTH): return .both
    case Int32(PAIRRM_COMPARE_AB): return .ab
    case Int32(PAIRRM_COMPARE_BA): return .ba
    default: throw invalid("mode: \(mode) is not a pairrm_compare_mode — use PAIRRM_COMPARE_BOTH, _AB or _BA")
    }
}

func verdictCode(_ verdict: Verdict) -> pairrm_verdict {
    switch verdict {
    case .a: return pairrm_verdict(PAIRRM_VERDICT_A)
    case .b: return pairrm_verdict(PAIRRM_VERDICT_B)
    case .tie: return pairrm_verdict(PAIRRM_VERDICT_TIE)
    }
}

/// Reads a growable params struct: the first `size` bytes over `defaults`; a larger struct must
/// have zero trailing bytes (fields this library does not know, left at their zero default).
func readParams<T>(_ pointer: UnsafePointer<T>?, defaults: T, _ name: String) throws -> T {
    guard let pointer else { return defaults }
    let raw = UnsafeRawPointer(pointer)
    let size = Int(raw.loadUnaligned(as: UInt32.self))
    let known = MemoryLayout<T>.size
    // Only the caller's `size` bytes may be read: a size larger than this library's struct would
    // make it read past the caller's struct (an uninitialized one may hold anything), so it is
    // refused rather than trusted. Smaller sizes are older callers: the rest keeps the defaults.
    guard size >= MemoryLayout<UInt32>.size, size <= known else {
        let abi = "\(PAIRRM_ABI_VERSION_MAJOR).\(PAIRRM_ABI_VERSION_MINOR).\(PAIRRM_ABI_VERSION_PATCH)"
        throw invalid(size > known
            ? "\(name)->size: \(size) is larger than the \(known) bytes this library (ABI \(abi)) knows: either the struct is uninitialized (start from the *_default_params() function) or the program was built against a newer pairrm.h (upgrade libpairrm)"
            : "\(name)->size: \(size) is not a struct size (uninitialized?) — start from the *_default_params() function")
    }
    var value = defaults
    withUnsafeMutableBytes(of: &value) { target in
        target.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: min(size, known)))
    }
    return value
}
