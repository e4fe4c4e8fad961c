// A loopback imitation of the Hugging Face hub's file-download protocol, for tests.
//
// Two listeners on 127.0.0.1: the "hub" answers /{org}/{name}/resolve/{revision}/{file}
// (redirecting LFS files to the second one), the "CDN" serves /blobs/{sha256}. Faults
// can be injected per file so a downloader's retry, resume and verification paths run.
// Every response closes its connection, so no keep-alive state can leak between requests.
import Foundation
import PairRMFormat
import NIOCore
import NIOHTTP1
import NIOPosix

final class HubTestServer: @unchecked Sendable {
    struct RepoFile { var name: String; var bytes: [UInt8]; var lfs: Bool }
    enum Fault: Sendable, Equatable {
        case serverErrorOnce  // first GET of the file answers 500
        case cutShort         // first GET sends full Content-Length, half the body, then closes
        case corrupt          // served bytes have one byte flipped (every time)
        case ignoreRange      // answers 200 with the whole body even when Range is present
    }
    struct LoggedRequest: Sendable { var server: String; var method: String; var uri: String; var headers: [(String, String)] }

    /// A file as stored: hashes are computed once, when the commit is added.
    private struct StoredFile { var bytes: [UInt8]; var lfs: Bool; var etag: String; var sha256: String }
    private struct Repo {
        var commits: [String: [String: StoredFile]] = [:]
        var refs: [String: String] = [:]
        var gateToken: String?
        var faults: [String: [Fault]] = [:]  // by file name; one-shot faults are removed when used
    }
    /// What to answer; the handler writes it. `cutAfter` = body bytes to send before dropping the connection.
    fileprivate struct Reply {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        var cutAfter: Int?
    }

    private let lock = NSLock()
    private var repos: [String: Repo] = [:]
    private var renames: [String: String] = [:]
    private var blobs: [String: [UInt8]] = [:]  // sha256 -> bytes, what the CDN can serve
    private var log: [LoggedRequest] = []
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var hubChannel: Channel?
    private var cdnChannel: Channel?
    private var hubPort = 0
    private var cdnPort = 0
    private var isShutDown = false

    init() throws {
        do {
            let cdn = try bind(role: "cdn")
            cdnChannel = cdn
            cdnPort = cdn.localAddress?.port ?? 0
            let hub = try bind(role: "hub")
            hubChannel = hub
            hubPort = hub.localAddress?.port ?? 0
        } catch {
            shutdown()
            throw error
        }
    }

    var endpoint: String { "http://127.0.0.1:\(locked { hubPort })" }
    var cdnEndpoint: String { "http://127.0.0.1:\(locked { cdnPort })" }

    func addCommit(repo: String, commit: String, files: [RepoFile]) {
        var stored: [String: StoredFile] = [:]
        var newBlobs: [String: [UInt8]] = [:]
        for file in files {  // hash outside the lock: big files take a while in debug builds
            let sha = HubTestServer.sha256Hex(file.bytes)
            // An LFS file's git ETag is that of its pointer file, as on the real hub.
            let pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:\(sha)\nsize \(file.bytes.count)\n"
            let etag = HubTestServer.gitBlobSHA1Hex(file.lfs ? Array(pointer.utf8) : file.bytes)
            stored[file.name] = StoredFile(bytes: file.bytes, lfs: file.lfs, etag: etag, sha256: sha)
            if file.lfs { newBlobs[sha] = file.bytes }
        }
        locked {
            repos[repo, default: Repo()].commits[commit] = stored
            blobs.merge(newBlobs) { _, new in new }
        }
    }

    func setRef(repo: String, revision: String, commit: String) {
        locked { repos[repo, default: Repo()].refs[revision] = commit }
    }

    /// The repo's content, gate and faults move to the new id; the old id only redirects.
    func renameRepo(from old: String, to new: String) {
        locked {
            if let moved = repos.removeValue(forKey: old), repos[new] == nil { repos[new] = moved }
            renames[new] = nil
            renames[old] = new
        }
    }

    func gate(repo: String, token: String) {
        locked { repos[repo, default: Repo()].gateToken = token }
    }

    func inject(_ fault: Fault, repo: String, file: String) {
        locked { repos[repo, default: Repo()].faults[file, default: []].append(fault) }
    }

    var requests: [LoggedRequest] { locked { log } }
    func clearLog() { locked { log.removeAll() } }

    func shutdown() {
        let channels: [Channel]? = locked {
            if isShutDown { return nil }
            isShutDown = true
            return [hubChannel, cdnChannel].compactMap { $0 }
        }
        guard let channels else { return }
        for channel in channels { try? channel.close().wait() }
        try? group.syncShutdownGracefully()
    }

    // MARK: - Hashes (the LFS oid, and git's blob id: SHA-1 of "blob <n>\0" + bytes)

    /// The LFS oid: the project's own tested SHA-256 (PairRMFormat's SHA256Stream).
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        var hash = SHA256Stream()
        bytes.withUnsafeBytes { hash.update($0) }
        return hash.finalizeHex()
    }

    static func gitBlobSHA1Hex(_ bytes: [UInt8]) -> String {
        let message = Array("blob \(bytes.count)\0".utf8) + bytes
        var h: [UInt32] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]
        var w = [UInt32](repeating: 0, count: 80)
        forEachBlock(of: message, words: &w) { w in
            for i in 16..<80 { w[i] = rotr(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 31) }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let f: UInt32, k: UInt32
                switch i {
                case ..<20: (f, k) = ((b & c) | (~b & d), 0x5a827999)
                case ..<40: (f, k) = (b ^ c ^ d, 0x6ed9eba1)
                case ..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8f1bbcdc)
                default: (f, k) = (b ^ c ^ d, 0xca62c1d6)
                }
                let t = rotr(a, 27) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, rotr(b, 2), a, t)
            }
            for (i, v) in [a, b, c, d, e].enumerated() { h[i] = h[i] &+ v }
        }
        return hex(h)
    }

    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x &>> n) | (x &<< (32 &- n)) }
    private static func hex(_ words: [UInt32]) -> String { words.map { String(format: "%08x", $0) }.joined() }

    /// SHA-1/SHA-256 padding (0x80, zeros, 64-bit big-endian bit count); loads each 64-byte block
    /// into w[0..<16] big-endian and calls `body` to run the compression.
    private static func forEachBlock(of bytes: [UInt8], words w: inout [UInt32], _ body: (inout [UInt32]) -> Void) {
        var message = bytes
        message.append(0x80)
        while message.count % 64 != 56 { message.append(0) }
        let bits = UInt64(bytes.count) &* 8
        for shift in stride(from: 56, through: 0, by: -8) { message.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        for block in stride(from: 0, to: message.count, by: 64) {
            for i in 0..<16 {
                let p = block + 4 * i
                var word = UInt32(message[p]) << 24
                word |= UInt32(message[p + 1]) << 16
                word |= UInt32(message[p + 2]) << 8
                word |= UInt32(message[p + 3])
                w[i] = word
            }
            body(&w)
        }
    }

    // MARK: - Routing (called on the event loop; all state is read and changed under the lock)

    fileprivate func reply(to head: HTTPRequestHead, server: String) -> Reply {
        locked {
            log.append(LoggedRequest(server: server, method: head.method.rawValue, uri: head.uri,
                                     headers: head.headers.map { ($0.name, $0.value) }))
            guard head.method == .GET || head.method == .HEAD else { return Self.notFound }
            let pathAndQuery = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let parts = pathAndQuery[0].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            let query = pathAndQuery.count > 1 ? String(pathAndQuery[1]) : ""
            if server == "hub", parts.count >= 6, parts[0].isEmpty, parts[3] == "resolve" {
                return hubReply(head: head, parts: parts, query: query)
            }
            if server == "cdn", parts.count == 3, parts[0].isEmpty, parts[1] == "blobs" {
                return cdnReply(head: head, sha: parts[2], query: query)
            }
            return Self.notFound
        }
    }

    private func hubReply(head: HTTPRequestHead, parts: [String], query: String) -> Reply {
        let org = Self.decode(parts[1]), name = Self.decode(parts[2])
        let repoId = "\(org)/\(name)"
        let revision = Self.decode(parts[4])
        let filePath = parts[5...].map(Self.decode).joined(separator: "/")
        if let newId = renames[repoId] {
            // Relative Location, keeping the rest of the URL as the client sent it.
            let rest = parts[3...].joined(separator: "/") + (query.isEmpty ? "" : "?\(query)")
            return Reply(status: .temporaryRedirect, headers: [("Location", "/\(newId)/\(rest)")])
        }
        guard let repo = repos[repoId] else {
            let url = "http://127.0.0.1:\(hubPort)\(head.uri)"
            return Self.error(.unauthorized, code: "RepoNotFound", message: "Repository not found",
                              body: "Repository Not Found for url: \(url).")
        }
        if let token = repo.gateToken, head.headers.first(name: "Authorization") != "Bearer \(token)" {
            let message = "Access to model \(repoId) is restricted. You must have access to it and be authenticated to access it. Please log in."
            return Self.error(.unauthorized, code: "GatedRepo", message: message, body: message)
        }
        guard let commit = repo.refs[revision] ?? (repo.commits[revision] != nil ? revision : nil),
              let tree = repo.commits[commit] else {
            return Self.error(.notFound, code: "RevisionNotFound", message: "Invalid rev id: \(revision)",
                              body: "Invalid rev id: \(revision)")
        }
        guard let file = tree[filePath] else {
            var reply = Self.error(.notFound, code: "EntryNotFound", message: "Entry not found", body: "Entry not found")
            reply.headers.append(("X-Repo-Commit", commit))
            return reply
        }
        if file.lfs {
            let location = "http://127.0.0.1:\(cdnPort)/blobs/\(file.sha256)?repo=\(org)%2F\(name)"
            return Reply(status: .found, headers: [
                ("Location", location), ("X-Repo-Commit", commit), ("X-Linked-Etag", "\"\(file.sha256)\""),
                ("X-Linked-Size", String(file.bytes.count)), ("ETag", "\"\(file.etag)\""),
            ])
        }
        return serve(file.bytes, etag: file.etag, head: head, repo: repoId, file: filePath,
                     extraHeaders: [("X-Repo-Commit", commit)])
    }

    private func cdnReply(head: HTTPRequestHead, sha: String, query: String) -> Reply {
        guard let bytes = blobs[sha] else { return Self.notFound }
        // Faults are set per repo file: find which file of the named repo this blob is.
        var repoId = "", fileName = ""
        for pair in query.split(separator: "&") where pair.hasPrefix("repo=") {
            repoId = Self.decode(String(pair.dropFirst(5)))
        }
        if let repo = repos[repoId] {
            let names = repo.commits.values.flatMap { tree in tree.filter { $0.value.lfs && $0.value.sha256 == sha }.keys }
            fileName = names.first { repo.faults[$0]?.isEmpty == false } ?? ""
        }
        return serve(bytes, etag: sha, head: head, repo: repoId, file: fileName, extraHeaders: [])
    }

    /// 200/206/416 with the bytes, applying Range and this file's faults.
    private func serve(_ bytes: [UInt8], etag: String, head: HTTPRequestHead, repo: String, file: String,
                       extraHeaders: [(String, String)]) -> Reply {
        var faults = repos[repo]?.faults[file] ?? []
        defer { if repos[repo] != nil, repos[repo]?.faults[file] != nil { repos[repo]?.faults[file] = faults } }
        let isGet = head.method == .GET
        if isGet, let i = faults.firstIndex(of: .serverErrorOnce) {
            faults.remove(at: i)
            return Reply(status: .internalServerError, headers: [("Content-Type", "text/plain")], body: Array("Internal Error".utf8))
        }
        var body = bytes
        if faults.contains(.corrupt), !body.isEmpty { body[body.count - 1] ^= 0xff }  // last byte: inside any resumed range
        var reply = Reply(status: .ok, headers: extraHeaders + [
            ("ETag", "\"\(etag)\""), ("Accept-Ranges", "bytes"), ("Content-Type", "application/octet-stream"),
        ])
        if !faults.contains(.ignoreRange), let range = head.headers.first(name: "Range"), let (start, end) = Self.parseRange(range) {
            guard start < bytes.count else {
                reply.status = .rangeNotSatisfiable
                reply.headers.append(("Content-Range", "bytes */\(bytes.count)"))
                return reply
            }
            let last = min(end ?? bytes.count - 1, bytes.count - 1)
            if last >= start {
                reply.status = .partialContent
                reply.headers.append(("Content-Range", "bytes \(start)-\(last)/\(bytes.count)"))
                body = Array(body[start...last])
            }
        }
        reply.body = body
        if isGet, let i = faults.firstIndex(of: .cutShort) {
            faults.remove(at: i)
            reply.cutAfter = body.count / 2
        }
        return reply
    }

    /// "bytes=N-" or "bytes=N-M"; anything else is ignored (served whole), as many servers do.
    private static func parseRange(_ value: String) -> (Int, Int?)? {
        guard value.hasPrefix("bytes="), !value.contains(",") else { return nil }
        let bounds = value.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard bounds.count == 2, let start = Int(bounds[0]), start >= 0 else { return nil }
        if bounds[1].isEmpty { return (start, nil) }
        guard let end = Int(bounds[1]) else { return nil }
        return (start, end)
    }

    private static let notFound = Reply(status: .notFound, headers: [("Content-Type", "text/plain")], body: Array("Not Found".utf8))

    private static func error(_ status: HTTPResponseStatus, code: String, message: String, body: String) -> Reply {
        let escaped = body.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return Reply(status: status, headers: [
            ("X-Error-Code", code), ("X-Error-Message", message), ("Content-Type", "application/json"),
        ], body: Array("{\"error\":\"\(escaped)\"}".utf8))
    }

    private static func decode(_ s: String) -> String { s.removingPercentEncoding ?? s }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func bind(role: String) throws -> Channel {
        try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let self else { throw ChannelError.ioOnClosedChannel }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HubTestHTTPHandler(server: self, role: role))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .wait()
    }
}

/// One per connection: collects the request head, answers at its end, then closes the connection.
private final class HubTestHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: HubTestServer
    private let role: String
    private var head: HTTPRequestHead?

    init(server: HubTestServer, role: String) {
        self.server = server
        self.role = role
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead): head = requestHead
        case .body: break  // request bodies are not part of this protocol
        case .end:
            guard let requestHead = head else { return }
            head = nil
            send(server.reply(to: requestHead, server: role), bodyless: requestHead.method == .HEAD, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func send(_ reply: HubTestServer.Reply, bodyless: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(reply.headers)
        // HEAD announces the length the GET would have; a cut-short GET still announces the full length.
        if !headers.contains(name: "Content-Length") { headers.add(name: "Content-Length", value: String(reply.body.count)) }
        headers.replaceOrAdd(name: "Connection", value: "close")
        var last = context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))))
        var body = bodyless ? [] : reply.body
        if let cut = reply.cutAfter { body = Array(body.prefix(cut)) }
        if !body.isEmpty {
            last = context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))))
        }
        if reply.cutAfter == nil || bodyless { last = context.write(wrapOutboundOut(.end(nil))) }
        context.flush()
        // Close only once everything queued is on the wire, so large bodies are not truncated
        // (and a cut-short body really ends early, without the terminating .end).
        let channel = context.channel
        last.whenComplete { _ in channel.close(promise: nil) }
    }
}
