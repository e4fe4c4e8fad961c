import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PairRMFormat
import PairRMStore

/// Bytes of one file arriving, for a progress bar.
public struct DownloadProgress: Sendable {
    public var file: String
    public var bytesDone: Int64
    public var bytesTotal: Int64
}

/// What the hub says about one file before it is downloaded (huggingface_hub's
/// `get_hf_file_metadata`).
struct FileMetadata: Sendable {
    var commit: String
    /// X-Linked-Etag (LFS files: the sha256 of the contents) or ETag (git blob id), unquoted.
    var etag: String
    var size: Int64
    /// Where the bytes are: the resolve URL, or the CDN URL a cross-host redirect named.
    var downloadURL: String
    /// LFS files carry the sha256 of their contents as ETag: the download can be checked.
    var sha256: String? {
        etag.utf8.count == 64 && etag.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) ? etag : nil
    }
}

/// Fetches PairRM checkpoints from the Hugging Face hub (or a mirror at $HF_ENDPOINT) into the
/// hub cache, speaking the protocol of the official clients: `/{repo}/resolve/{revision}/{file}`,
/// metadata from a HEAD that follows only relative redirects, the token sent to the hub's own
/// host only, downloads resumed with Range and checked against the LFS sha256, written to
/// `blobs/<etag>.incomplete` under a lock and renamed when whole.
public final class HubClient: Sendable {
    public let settings: HubSettings
    public let cache: HubCache
    let progress: @Sendable (DownloadProgress) -> Void
    let note: @Sendable (String) -> Void
    let http: HTTPClient

    public init(settings: HubSettings, cache: HubCache, progress: @escaping @Sendable (DownloadProgress) -> Void = { _ in },
                note: @escaping @Sendable (String) -> Void = { _ in }) {
        self.settings = settings
        self.cache = cache
        self.progress = progress
        self.note = note
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .milliseconds(Int64(settings.connectTimeout * 1000)),
                                                                    read: .milliseconds(Int64(settings.readTimeout * 1000))))
        if let proxy = settings.proxy {
            let authorization = proxy.username.map { HTTPClient.Authorization.basic(username: $0, password: proxy.password ?? "") }
            configuration.proxy = .server(host: proxy.host, port: proxy.port, authorization: authorization)
        }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit { try? http.syncShutdown() }

    /// Downloads what conversion needs of `id` (CheckpointFiles) at one commit, and returns the
    /// snapshot folder. Files already in the cache are not downloaded again.
    public func fetchSnapshot(_ id: HubModelID) throws -> (folder: String, commit: String) {
        guard !settings.offline else {
            throw StoreError(.notCached, "HF_HUB_OFFLINE is set, so \(id) cannot be fetched; unset it, or use a cached or copied model", code: "offline")
        }
        let first = try metadata(id, file: CheckpointFiles.required[0])
        let pinned = id.at(first.commit)   // every other file from the same commit, even if the branch moves meanwhile
        try fetch(pinned, file: CheckpointFiles.required[0], metadata: first)
        for file in CheckpointFiles.required.dropFirst() {
            try fetch(pinned, file: file, metadata: try metadata(pinned, file: file))
        }
        var weights: String?
        for file in CheckpointFiles.weights where weights == nil {
            if let found = try optionalMetadata(pinned, file: file) {
                try fetch(pinned, file: file, metadata: found)
                weights = file
            }
        }
        guard weights != nil else {
            throw StoreError(.hub, "\(id) at commit \(first.commit) has neither \(CheckpointFiles.weights.joined(separator: " nor ")); it is not a PairRM checkpoint (try llm-blender/PairRM or llm-blender/PairRM-hf)", code: "EntryNotFound")
        }
        for file in CheckpointFiles.optional {
            if let found = try optionalMetadata(pinned, file: file) { try fetch(pinned, file: file, metadata: found) }
        }
        // The ref moves only once the new snapshot is complete, so a failed update leaves the
        // previous snapshot usable offline.
        try cache.writeRef(id, commit: first.commit)
        return (cache.snapshotFolder(id, commit: first.commit), first.commit)
    }

    // MARK: - Metadata

    func resolveURL(_ id: HubModelID, file: String) -> String {
        let revision = id.revision.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? id.revision
        let path = file.split(separator: "/").map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? String($0) }
        return "\(settings.endpoint)/\(id.repo)/resolve/\(revision)/\(path.joined(separator: "/"))"
    }

    /// The metadata of a file that may be absent (nil when the hub answers EntryNotFound; the
    /// absence is recorded in `.no_exist` as huggingface_hub does).
    func optionalMetadata(_ id: HubModelID, file: String) throws -> FileMetadata? {
        do {
            return try metadata(id, file: file)
        } catch let error as StoreError where error.code == "EntryNotFound" {
            let marker = cache.noExistPath(id, commit: id.revision, file: file)
            try? FileSystem.createDirectory((marker as NSString).deletingLastPathComponent)
            try? FileSystem.writeAtomically([], to: marker)
            return nil
        }
    }

    func metadata(_ id: HubModelID, file: String) throws -> FileMetadata {
        var url = resolveURL(id, file: file)
        for _ in 0..<10 {
            let response = try send(method: .HEAD, url: url, headers: ["Accept-Encoding": "identity"], what: "\(id) \(file)")
            let headers = response.headers
            if (300..<400).contains(response.status.code), let location = headers.first(name: "Location") {
                if location.hasPrefix("/") && !location.hasPrefix("//") {
                    url = origin(of: url) + location   // a renamed repository: same host, keep asking
                    continue
                }
                return try describe(id, file: file, headers: headers, downloadURL: absolute(location, base: url))
            }
            guard (200..<300).contains(response.status.code) else {
                throw error(for: response.status.code, headers: headers, id: id, file: file)
            }
            return try describe(id, file: file, headers: headers, downloadURL: url)
        }
        throw StoreError(.hub, "\(id) \(file): more than 10 redirects from \(settings.endpoint); check HF_ENDPOINT", code: "redirects")
    }

    func describe(_ id: HubModelID, file: String, headers: HTTPHeaders, downloadURL: String) throws -> FileMetadata {
        func unquoted(_ text: String) -> String {
            var value = text.hasPrefix("W/") ? String(text.dropFirst(2)) : text
            value = value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            return value
        }
        guard let commit = headers.first(name: "X-Repo-Commit"), HubModelID.isCommit(commit) else {
            throw StoreError(.hub, "\(id) \(file): \(settings.endpoint) did not say which commit it serves (no X-Repo-Commit header); HF_ENDPOINT must be the hub or a mirror that speaks its protocol", code: "protocol")
        }
        guard let etagText = headers.first(name: "X-Linked-Etag") ?? headers.first(name: "ETag") else {
            throw StoreError(.hub, "\(id) \(file): \(settings.endpoint) sent no ETag, so the file cannot be cached or checked; HF_ENDPOINT must be the hub or a mirror that speaks its protocol", code: "protocol")
        }
        let etag = unquoted(etagText)
        guard !etag.isEmpty, etag.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x2F && $0 != 0x5C && $0 < 0x7F }), etag != ".", etag != ".." else {
            throw StoreError(.hub, "\(id) \(file): the ETag \"\(etagText)\" cannot name a cache file", code: "protocol")
        }
        guard let sizeText = headers.first(name: "X-Linked-Size") ?? headers.first(name: "Content-Length"), let size = Int64(sizeText), size >= 0 else {
            throw StoreError(.hub, "\(id) \(file): \(settings.endpoint) did not say how large the file is", code: "protocol")
        }
        return FileMetadata(commit: commit.lowercased(), etag: etag, size: size, downloadURL: downloadURL)
    }

    func error(for status: UInt, headers: HTTPHeaders, id: HubModelID, file: String) -> StoreError {
        let code = headers.first(name: "X-Error-Code")
        let page = "\(settings.endpoint)/\(id.repo)"
        switch code {
        case "RepoNotFound":
            return StoreError(.hub, "\(id.repo) was not found on \(settings.endpoint), or it is private and no valid token was sent; check the name (the published model is \(ModelLocator.publishedModel)) or set HF_TOKEN", code: code)
        case "GatedRepo":
            return StoreError(.hub, "\(id.repo) is gated: accept its conditions at \(page) while logged in, then set HF_TOKEN to a token of that account (or put it in \(settings.endpoint == "https://huggingface.co" ? "~/.cache/huggingface/token" : "$HF_HOME/token"))", code: code)
        case "RevisionNotFound":
            return StoreError(.hub, "\(id.repo) has no revision \"\(id.revision)\"; check the branch, tag or commit after @ (the default is main)", code: code)
        case "EntryNotFound":
            return StoreError(.hub, "\(id) has no file \(file); is it a PairRM checkpoint? (llm-blender/PairRM and llm-blender/PairRM-hf are)", code: code)
        default:
            switch status {
            case 401: return StoreError(.hub, "\(settings.endpoint) refused the request for \(id) \(file) (401 Unauthorized); set HF_TOKEN to a valid token", code: "http-401")
            case 403: return StoreError(.hub, "\(settings.endpoint) forbids \(id) \(file) (403); check that your token has access to \(page)", code: "http-403")
            case 404: return StoreError(.hub, "\(settings.endpoint) has no \(id) \(file) (404); check the repository name and HF_ENDPOINT", code: "http-404")
            default: return StoreError(.hub, "\(settings.endpoint) answered \(status) for \(id) \(file); try again later", code: "http-\(status)")
            }
        }
    }

    // MARK: - Download

    /// Puts `file` at `metadata`'s commit into the cache: reuses the blob when present, else
    /// downloads it (resuming a previous attempt) under the blob's lock.
    func fetch(_ pinned: HubModelID, file: String, metadata: FileMetadata) throws {
        let blob = cache.blobPath(pinned, etag: metadata.etag)
        if FileSystem.fileSize(blob) != metadata.size {
            let lock = try FileLock(path: cache.lockPath(pinned, etag: metadata.etag)) {
                self.note("waiting for another process downloading \(pinned.repo) \(file)…")
            }
            defer { lock.release() }
            if FileSystem.fileSize(blob) != metadata.size {
                try FileSystem.createDirectory((blob as NSString).deletingLastPathComponent)
                try download(pinned, file: file, metadata: metadata, to: blob)
            }
        }
        try cache.linkSnapshotFile(pinned, commit: metadata.commit, file: file, etag: metadata.etag)
    }

    func download(_ pinned: HubModelID, file: String, metadata: FileMetadata, to blob: String) throws {
        let partial = blob + ".incomplete"
        let what = "\(pinned.repo) \(file)"
        var attempt = 0
        var streamedHash: String?
        while true {
            attempt += 1
            do {
                streamedHash = try transfer(pinned, file: file, url: metadata.downloadURL, to: partial, expected: metadata.size)
                break
            } catch let error as TransferFailure {
                guard attempt < settings.attempts else {
                    throw StoreError(.hub, "\(what): \(error.reason) (\(attempt) attempts); the part received is kept in \(partial) and the next run resumes it", code: error.code)
                }
                note("\(what): \(error.reason); retrying (\(attempt + 1)/\(settings.attempts))")
                Thread.sleep(forTimeInterval: settings.retryDelay * Double(1 << min(attempt - 1, 6)))
            }
        }
        if let expected = metadata.sha256 {
            let received = try streamedHash ?? sha256(of: partial, what: what)
            guard received == expected else {
                unlink(partial)
                throw StoreError(.hub, "\(what) from \(host(of: metadata.downloadURL)) is corrupt: sha256 \(received), the hub says \(metadata.etag); it was deleted and nothing was cached; run the command again, and if it repeats the server (HF_ENDPOINT) serves a bad copy", code: "checksum")
            }
        }
        guard rename(partial, blob) == 0 else {
            throw StoreError(.cacheIO, "cannot move \(partial) to \(blob): \(String(cString: strerror(errno)))")
        }
    }

    struct TransferFailure: Error {
        var reason: String
        var code: String
    }

    /// One GET into `partial`, resuming from its current size, hashing the whole file as it
    /// streams (the kept prefix is read back first). Returns the SHA-256 hex, or nil when the
    /// file was already complete. Throws TransferFailure for what a retry may cure (5xx, 429, a
    /// broken or short body), StoreError for what it will not.
    func transfer(_ pinned: HubModelID, file: String, url startURL: String, to partial: String, expected: Int64) throws -> String? {
        let what = "\(pinned.repo) \(file)"
        var offset = FileSystem.fileSize(partial) ?? 0
        if offset > expected { unlink(partial); offset = 0 }
        if offset == expected { return nil }
        var url = startURL
        for _ in 0..<10 {
            var headers: [String: String] = ["Accept-Encoding": "identity"]
            if offset > 0 { headers["Range"] = "bytes=\(offset)-" }
            let outcome = try blocking { [self, url, headers, offset] () async throws -> TransferOutcome in
                let request = makeRequest(method: .GET, url: url, headers: headers)
                let response: HTTPClientResponse
                do {
                    response = try await http.execute(request, timeout: .hours(6))
                } catch {
                    return .failed(TransferFailure(reason: "cannot reach \(host(of: url)): \(error)", code: "network"))
                }
                let status = response.status.code
                if (300..<400).contains(status), let location = response.headers.first(name: "Location") {
                    return .redirect(absolute(location, base: url))
                }
                if status == 416 { return .restart }
                if status >= 500 || status == 429 {
                    return .failed(TransferFailure(reason: "\(host(of: url)) answered \(status)", code: "http-\(status)"))
                }
                guard status == 200 || status == 206 else { return .refused(status, response.headers) }
                var start = offset
                if status == 206 {
                    // "bytes START-END/TOTAL": append only if the server resumed where we stopped.
                    let range = response.headers.first(name: "Content-Range") ?? ""
                    let first = range.split(separator: " ").last?.split(separator: "-").first.flatMap { Int64($0) }
                    if first != offset { return .restart }
                } else {
                    start = 0
                }
                let fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
                guard fd >= 0 else {
                    return .fatal(StoreError(.cacheIO, "cannot write \(partial): \(String(cString: strerror(errno))); check that the cache is writable"))
                }
                defer { close(fd) }
                guard ftruncate(fd, off_t(start)) == 0, lseek(fd, off_t(start), SEEK_SET) == off_t(start) else {
                    return .fatal(StoreError(.cacheIO, "cannot write \(partial): \(String(cString: strerror(errno)))"))
                }
                var hash = SHA256Stream()
                var block = [UInt8](repeating: 0, count: 1 << 20)
                var hashed: Int64 = 0
                while hashed < start {
                    let count = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(min(Int64($0.count), start - hashed)), off_t(hashed)) }
                    guard count > 0 else { return .restart }
                    block.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                    hashed += Int64(count)
                }
                var done = start
                progress(DownloadProgress(file: file, bytesDone: done, bytesTotal: expected))
                do {
                    for try await buffer in response.body {
                        let ok = buffer.withUnsafeReadableBytes { bytes -> Bool in
                            hash.update(bytes)
                            var written = 0
                            while written < bytes.count {
                                let n = write(fd, bytes.baseAddress! + written, bytes.count - written)
                                if n < 0 { if errno == EINTR { continue }; return false }
                                written += n
                            }
                            return true
                        }
                        guard ok else {
                            return .fatal(StoreError(.cacheIO, "cannot write \(partial): \(String(cString: strerror(errno))); check free space (the file needs \(expected) bytes)"))
                        }
                        done += Int64(buffer.readableBytes)
                        guard done <= expected else { break }
                        progress(DownloadProgress(file: file, bytesDone: done, bytesTotal: expected))
                    }
                } catch {
                    return .failed(TransferFailure(reason: "the connection broke after \(done) of \(expected) bytes (\(error))", code: "truncated"))
                }
                if done < expected {
                    return .failed(TransferFailure(reason: "the body ended after \(done) of \(expected) bytes", code: "truncated"))
                }
                if done > expected {
                    _ = ftruncate(fd, 0)
                    return .fatal(StoreError(.hub, "\(what) from \(host(of: url)) is larger than the \(expected) bytes the hub announced; nothing was cached; run again, and if it repeats the server serves a bad copy", code: "size"))
                }
                return .complete(hash.finalizeHex())
            }
            switch outcome {
            case .complete(let hex): return hex
            case .redirect(let next): url = next
            case .restart:
                unlink(partial)
                offset = 0
            case .failed(let failure): throw failure
            case .fatal(let error): throw error
            case .refused(let status, let headers):
                throw error(for: status, headers: headers, id: pinned, file: file)
            }
        }
        throw StoreError(.hub, "\(what): too many redirects while downloading", code: "redirects")
    }

    enum TransferOutcome: Sendable {
        case restart
        case complete(String)
        case redirect(String)
        case failed(TransferFailure)
        case fatal(StoreError)
        case refused(UInt, HTTPHeaders)
    }

    func sha256(of path: String, what: String) throws -> String {
        guard let hex = SHA256Stream.hexDigest(ofFile: path) else {
            throw StoreError(.cacheIO, "cannot read \(path) to check \(what)")
        }
        return hex
    }

    // MARK: - HTTP

    /// A HEAD or GET whose answer is small, with retries for 5xx, 429 and broken connections.
    func send(method: HTTPMethod, url: String, headers: [String: String], what: String) throws -> (status: HTTPResponseStatus, headers: HTTPHeaders) {
        var attempt = 0
        while true {
            attempt += 1
            let result: Result<(status: HTTPResponseStatus, headers: HTTPHeaders), TransferFailure> = try blocking { [self] in
                do {
                    let response = try await http.execute(makeRequest(method: method, url: url, headers: headers), timeout: .seconds(60))
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    if response.status.code >= 500 || response.status.code == 429 {
                        return .failure(TransferFailure(reason: "\(host(of: url)) answered \(response.status.code)", code: "http-\(response.status.code)"))
                    }
                    return .success((response.status, response.headers))
                } catch {
                    return .failure(TransferFailure(reason: "cannot reach \(host(of: url)): \(error)", code: "network"))
                }
            }
            switch result {
            case .success(let answer): return answer
            case .failure(let failure):
                guard attempt < settings.attempts else {
                    let hint = failure.code == "network"
                        ? "; check the network or the proxy (HTTPS_PROXY), or work offline with a cached or copied model (README, \"Offline\")"
                        : "; try again later"
                    throw StoreError(.hub, "\(what): \(failure.reason) (\(attempt) attempts)\(hint)", code: failure.code)
                }
                note("\(what): \(failure.reason); retrying (\(attempt + 1)/\(settings.attempts))")
                Thread.sleep(forTimeInterval: settings.retryDelay * Double(1 << min(attempt - 1, 6)))
            }
        }
    }

    func makeRequest(method: HTTPMethod, url: String, headers: [String: String]) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: settings.userAgent)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        // The token goes to the hub's own origin only, never to the CDN or any host a redirect names.
        if let token = settings.token, origin(of: url) == origin(of: settings.endpoint) {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        return request
    }

    /// "scheme://host:port" of a URL, for same-origin checks.
    func origin(of url: String) -> String {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), let host = parts.host?.lowercased() else { return url }
        let port = parts.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(host):\(port)"
    }

    func host(of url: String) -> String { URLComponents(string: url)?.host ?? url }

    func absolute(_ location: String, base: String) -> String {
        URL(string: location, relativeTo: URL(string: base))?.absoluteString ?? location
    }
}

/// Runs async work to completion from synchronous code (the CLI and the store are synchronous;
/// AsyncHTTPClient's event loops run on their own threads, so waiting here cannot deadlock).
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// Carries a result out of the task `blocking` waits for; the semaphore orders the accesses.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
