#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import PairRMTestSupport
import XCTest

/// `pairrm serve` as a process on a loopback port, driven over raw sockets: startup and
/// /health, SIGTERM under load (requests in flight finish, exit 0), clients that send slowly or
/// vanish mid-request. Every test is bounded in time.
final class ServeProcessTests: XCTestCase {
    /// A running server: its process, its port and its stderr file.
    final class Server {
        let process: Process
        let port: Int
        let stderrPath: String

        init(process: Process, port: Int, stderrPath: String) {
            self.process = process
            self.port = port
            self.stderrPath = stderrPath
        }

        var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: stderrPath)
        }
    }

    /// Starts `pairrm serve --port 0 ARGS` on the tiny model and waits for /health 200.
    func startServer(_ arguments: [String] = []) throws -> Server {
        let binary = Bundle.main.bundleURL.appendingPathComponent("pairrm").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("pairrm is not built next to the tests (\(binary))") }
        let stderrPath = TestPaths.scratch("serve-tests") + "/stderr-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--model", try ConvertedFixtures.model(.f32), "--port", "0", "--log-level", "warning"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["HF_HUB_OFFLINE"] = "1"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
        let started = Date()
        var port: Int?
        while port == nil, Date().timeIntervalSince(started) < 60, process.isRunning {
            let text = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            if let range = text.range(of: "listening on http://127.0.0.1:") {
                port = Int(text[range.upperBound...].prefix { $0.isNumber })
            }
            usleep(10_000)
        }
        guard let port else {
            let server = Server(process: process, port: 0, stderrPath: stderrPath)
            let text = server.stderr
            server.stop()
            XCTFail("no 'listening on' line: \(text)")
            throw XCTSkip("server did not start")
        }
        let server = Server(process: process, port: port, stderrPath: stderrPath)
        while Date().timeIntervalSince(started) < 60 {
            if (try? request(server, "GET", "/health"))?.status == 200 { return server }
            usleep(20_000)
        }
        server.stop()
        throw XCTSkip("the model did not load in 60 s")
    }

    struct Reply {
        var status: Int
        var body: String
    }

    /// A connected loopback socket with send and receive timeouts.
    func connect(_ port: Int, timeout: Int = 30) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        return fd
    }

    func send(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Reads until the server closes the connection (requests send Connection: close).
    func receive(_ fd: Int32) -> Reply? {
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { break }
            data += chunk[0..<count]
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let line = text.split(separator: "\r\n").first, let status = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return Reply(status: status, body: body)
    }

    func head(_ method: String, _ path: String, contentLength: Int) -> String {
        "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: \(contentLength)\r\n\r\n"
    }

    func request(_ server: Server, _ method: String, _ path: String, body: String = "") throws -> Reply {
        let fd = try connect(server.port)
        defer { close(fd) }
        send(fd, head(method, path, contentLength: body.utf8.count) + body)
        guard let reply = receive(fd) else { throw POSIXError(.EIO) }
        return reply
    }

    /// A request that keeps a worker busy for a few seconds on the tiny model (two items of
    /// 24 candidates: 2 × 552 forward passes).
    var heavyBody: String {
        let candidates = (0..<24).map { "\"candidate \($0): the boy jumped from floor \($0) of the school\"" }.joined(separator: ",")
        let item = #"{"prompt":"What did the boy do?","candidates":["# + candidates + "]}"
        return "[" + item + "," + item + "]"
    }

    func metric(_ server: Server, _ line: String) throws -> Bool {
        try request(server, "GET", "/metrics").body.contains(line)
    }

    func testServeAnswersThenDrainsOnSIGTERMFinishingRequestsInFlight() throws {
        let server = try startServer(["--workers", "1"])
        defer { server.stop() }
        let compare = try request(server, "POST", "/v1/compare", body: #"{"prompt":"2+2?","a":"4","b":"5"}"#)
        XCTAssertEqual(compare.status, 200, compare.body)
        XCTAssertTrue(compare.body.hasPrefix(#"{"logit":"#), compare.body)

        // A heavy request in flight, then SIGTERM: it still gets its whole answer, and the process exits 0.
        let fd = try connect(server.port, timeout: 120)
        defer { close(fd) }
        let body = heavyBody
        send(fd, head("POST", "/v1/rank", contentLength: body.utf8.count) + body)
        usleep(300_000)
        kill(server.process.processIdentifier, SIGTERM)
        let reply = receive(fd)
        XCTAssertEqual(reply?.status, 200, reply?.body ?? "no reply")
        XCTAssertEqual(reply?.body.components(separatedBy: "\"ranks\"").count, 3, "both results")
        let started = Date()
        while server.process.isRunning, Date().timeIntervalSince(started) < 30 { usleep(20_000) }
        XCTAssertFalse(server.process.isRunning, "exits after draining")
        if !server.process.isRunning {
            XCTAssertEqual(server.process.terminationStatus, 0, server.stderr)
            XCTAssertEqual(server.process.terminationReason, .exit)
        }
        XCTAssertThrowsError(try request(server, "GET", "/health"), "no longer listening")
    }

    func testSlowBodiesAreCutAndVanishedClientsCostNothing() throws {
        let server = try startServer(["--body-timeout", "1", "--workers", "1"])
        defer { server.stop() }
        // Slowloris: a body announced but never finished gets 408 after --body-timeout.
        let slow = try connect(server.port)
        defer { close(slow) }
        let began = Date()
        send(slow, head("POST", "/v1/compare", contentLength: 100) + #"{"prompt":"#)
        let timedOut = receive(slow)
        XCTAssertEqual(timedOut?.status, 408, timedOut?.body ?? "no reply")
        XCTAssertLessThan(Date().timeIntervalSince(began), 20)

        // A client that disconnects while its heavy request runs: its work is dropped (499 in
        // the metrics) and the server keeps serving.
        let gone = try connect(server.port)
        let body = heavyBody
        send(gone, head("POST", "/v1/rank", contentLength: body.utf8.count) + body)
        usleep(200_000)
        close(gone)
        var dropped = false
        let waitStart = Date()
        while !dropped, Date().timeIntervalSince(waitStart) < 60 {
            dropped = try metric(server, #"pairrm_requests_total{endpoint="/v1/rank",status="499"} 1"#)
                || metric(server, #"pairrm_requests_total{endpoint="/v1/rank",status="200"} 1"#)
            usleep(50_000)
        }
        let metrics = try request(server, "GET", "/metrics").body
        XCTAssertTrue(metrics.contains(#"pairrm_requests_total{endpoint="/v1/rank",status="499"} 1"#), "the abandoned request was stopped: \(metrics)")

        // Malformed JSON and an unknown path: clear errors, and the server is still healthy.
        XCTAssertEqual(try request(server, "POST", "/v1/compare", body: "{nope").status, 400)
        XCTAssertEqual(try request(server, "GET", "/nowhere").status, 404)
        XCTAssertEqual(try request(server, "GET", "/health").status, 200)
        XCTAssertTrue(server.process.isRunning)
    }

    /// Runs `pairrm serve ARGS` to its exit: the status and stderr.
    func serveToExit(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let binary = Bundle.main.bundleURL.appendingPathComponent("pairrm").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("pairrm is not built next to the tests") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve"] + arguments
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// A model that fails to load ends the server with exit 1 and the loader's message.
    func testServeExitsWithTheLoadErrorWhenTheModelIsBad() throws {
        let bad = TestPaths.scratch("serve-tests") + "/not-a-model.prm"
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: bad))
        let (status, text) = try serveToExit(["--model", bad, "--port", "0"])
        XCTAssertEqual(status, 1, text)
        XCTAssertTrue(text.contains("header.magic"), text)
    }

    func testServeRejectsBadOptionsWithUsageErrors() throws {
        for (arguments, words) in [(["--request-timeout", "0"], "--request-timeout"), (["--log-level", "loud"], "--log-level"), (["--port", "70000"], "--port")] {
            let (status, text) = try serveToExit(arguments)
            XCTAssertEqual(status, 64, text)
            XCTAssertTrue(text.contains(words), text)
        }
    }
}
