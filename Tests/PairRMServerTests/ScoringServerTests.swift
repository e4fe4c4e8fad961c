import Dispatch
import Foundation
import Hummingbird
import HummingbirdTesting
import PairRM
import PairRMConverter
import PairRMProtocol
import PairRMTestSupport
@testable import PairRMServer
import Logging
import ServiceLifecycle
import XCTest

/// The real HTTP server on a loopback port (Hummingbird's `.live` test mode), on the tiny model:
/// the native endpoints answer exactly what the CLI's line processor answers, and bad requests
/// get the documented status and error shape.
final class ScoringServerTests: XCTestCase {
    static let ranker = Result { try PairRanker(path: ConvertedFixtures.model(.f32)) }

    func application(state: ServerState? = nil, _ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> some ApplicationProtocol {
        var configuration = ServerConfiguration()
        configure(&configuration)
        let state = try state ?? ServerState(ranker: Self.ranker.get())
        return Application(router: ScoringServer.router(state: state, configuration: configuration),
                           configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: quietLogger)
    }

    static func text(_ response: TestResponse) -> String { String(buffer: response.body) }

    func testNativeEndpointsAnswerLikeTheCLI() async throws {
        let ranker = try Self.ranker.get()
        let compareLine = #"{"id":"q1","prompt":"2+2?","a":"4","b":"5"}"#
        let rankLine = #"{"prompt":"Name a color.","candidates":["red","blue","a number"]}"#
        func cli(_ task: LineTask, _ line: String) -> String {
            guard case .output(let text) = LineProcessor(task: task).process(Array(line.utf8), number: 1, ranker: ranker) else { return "" }
            return text
        }
        let expectedCompare = cli(.compare(mode: .both), compareLine)
        let expectedRank = cli(.rank(strategy: .fullMatrix), rankLine)
        let bestLine = #"{"prompt":"Name a color.","candidates":["red","blue","a number"]}"#
        let expectedBest = cli(.select(strategy: .full, worst: false, returnAll: false), bestLine)
        let conversationLine = #"{"a":[{"role":"USER","content":"hi"},{"role":"ASSISTANT","content":"hello"}],"b":[{"role":"USER","content":"hi"},{"role":"ASSISTANT","content":"go away"}]}"#
        let expectedConversation = cli(.compareConversations(mode: .both), conversationLine)
        try await application().test(.live) { client in
            try await client.execute(uri: "/health", method: .get) { XCTAssertEqual($0.status, .ok) }
            try await client.execute(uri: "/v1/compare", method: .post, body: ByteBuffer(string: compareLine)) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(Self.text(response), expectedCompare)
            }
            try await client.execute(uri: "/v1/rank", method: .post, body: ByteBuffer(string: "[\(rankLine),\(rankLine)]")) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(Self.text(response), "[\(expectedRank),\(expectedRank)]")
            }
            try await client.execute(uri: "/v1/best-of-n", method: .post, body: ByteBuffer(string: bestLine)) { response in
                XCTAssertEqual(Self.text(response), expectedBest)
            }
            try await client.execute(uri: "/v1/compare-conversations", method: .post, body: ByteBuffer(string: conversationLine)) { response in
                XCTAssertEqual(Self.text(response), expectedConversation)
            }
            // Chat APIs write roles in lower case: the same roles for LLM-Blender's template.
            let lowerCase = conversationLine.replacingOccurrences(of: "USER", with: "user").replacingOccurrences(of: "ASSISTANT", with: "Assistant")
            try await client.execute(uri: "/v1/compare-conversations", method: .post, body: ByteBuffer(string: lowerCase)) { response in
                XCTAssertEqual(Self.text(response), expectedConversation)
            }
            try await client.execute(uri: "/info", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                for member in ["\"queue_limit\":64", "\"kernel_variant\":", "\"version\":", "\"status\":\"ready\""] {
                    XCTAssertTrue(Self.text(response).contains(member), Self.text(response))
                }
            }
        }
    }

    func testRerankSortsTextsByPairRMScore() async throws {
        let ranker = try Self.ranker.get()
        let texts = ["4", "5", "four", "2+2 equals 4"]
        let scores = try XCTUnwrap(try ranker.rank("2+2?", texts).scores)
        let expected = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        try await application().test(.live) { client in
            let body = #"{"query":"2+2?","texts":["4","5","four","2+2 equals 4"],"return_text":true}"#
            try await client.execute(uri: "/rerank", method: .post, body: ByteBuffer(string: body)) { response in
                XCTAssertEqual(response.status, .ok)
                let results = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(Self.text(response).utf8)) as? [[String: Any]])
                XCTAssertEqual(results.compactMap { $0["index"] as? Int }, expected)
                let top = try XCTUnwrap(results.first?["score"] as? Double)
                XCTAssertEqual(top, 1 / (1 + exp(-Double(scores[expected[0]]))), accuracy: 1e-6, "logistic of the margin")
                XCTAssertEqual(results.first?["text"] as? String, texts[expected[0]])
            }
            let raw = #"{"query":"2+2?","texts":["4","5"],"raw_scores":true}"#
            try await client.execute(uri: "/rerank", method: .post, body: ByteBuffer(string: raw)) { response in
                XCTAssertTrue(Self.text(response).contains("\"score\":"), Self.text(response))
                XCTAssertFalse(Self.text(response).contains("\"text\""))
            }
        }
    }

    func testBadRequestsGetTheirStatusAndTheErrorShape() async throws {
        try await application { $0.maxBodyBytes = 2048; $0.maxItemsPerRequest = 2; $0.maxCharsPerText = 500 }.test(.live) { client in
            let cases: [(String, String, HTTPResponse.Status, String)] = [
                ("/v1/compare", "not json", .badRequest, "not valid JSON"),
                ("/v1/compare", #"{"prompt":1,"a":"x","b":"y"}"#, .unprocessableContent, "prompt"),
                ("/v1/compare", "[]", .unprocessableContent, "empty"),
                ("/v1/compare", "42", .unprocessableContent, "object"),
                ("/v1/rank", #"[{"prompt":"p","candidates":["a"]},{"prompt":"p","candidates":[]}]"#, .unprocessableContent, "item 1"),
                ("/v1/rank", #"[{"prompt":"p","candidates":["a"]},{},{}]"#, .contentTooLarge, "at most 2"),
                ("/v1/compare", #"{"prompt":""# + String(repeating: "x", count: 4096) + #"","a":"x","b":"y"}"#, .contentTooLarge, "2048"),
                ("/rerank", #"{"query":"q","texts":[]}"#, .unprocessableContent, "texts"),
                ("/rerank", #"{"query":"q","texts":["a",3]}"#, .unprocessableContent, "texts[1]"),
                ("/rerank", #"{"query":"q","texts":["a"],"raw_scores":"yes"}"#, .unprocessableContent, "raw_scores"),
                ("/v1/compare", String(repeating: "[", count: 200) + String(repeating: "]", count: 200), .badRequest, "nested deeper"),
                ("/v1/compare", #"{"prompt":"p","a":"#, .badRequest, "not valid JSON"),
                ("/v1/compare", #"{"prompt":"p","a":""# + String(repeating: "y", count: 600) + #"","b":"y"}"#, .contentTooLarge, "body.a has 600 characters"),
                ("/v1/compare-conversations", #"{"a":[{"role":"USER","content":"hi"}],"b":[{"role":"USER","content":"hi"}]}"#, .unprocessableContent, "even"),
                ("/v1/rank", #"{"prompt":"p","candidates":["a","b","c"]}"#, .contentTooLarge, "body.candidates has 3 items"),
                ("/v1/compare-conversations", #"{"a":[{"role":"system","content":"x"},{"role":"user","content":"hi"}],"b":[]}"#, .unprocessableContent, "role"),
            ]
            for (uri, body, status, words) in cases {
                try await client.execute(uri: uri, method: .post, body: ByteBuffer(string: body)) { response in
                    XCTAssertEqual(response.status, status, "\(uri) \(body.prefix(60)): \(Self.text(response))")
                    let text = Self.text(response)
                    XCTAssertTrue(text.contains("\"error_type\""), text)
                    XCTAssertTrue(text.contains(words), "\(words) missing from \(text)")
                }
            }
        }
    }

    func testBearerTokenIsRequiredWhenConfigured() async throws {
        try await application { $0.apiKey = "secret" }.test(.live) { client in
            try await client.execute(uri: "/health", method: .get) { XCTAssertEqual($0.status, .ok) }
            let body = ByteBuffer(string: #"{"prompt":"p","a":"x","b":"y"}"#)
            try await client.execute(uri: "/v1/compare", method: .post, body: body) { XCTAssertEqual($0.status, .unauthorized) }
            try await client.execute(uri: "/v1/compare", method: .post, headers: [.authorization: "Bearer secret"], body: body) {
                XCTAssertEqual($0.status, .ok)
            }
        }
    }

    func testInvalidUTF8AndTruncationRefusalAreClientErrors() async throws {
        XCTAssertNil(ScoringServer.firstInvalidUTF8(Array("héllo".utf8)))
        XCTAssertEqual(ScoringServer.firstInvalidUTF8(Array("hé".utf8) + [0xFF]), 3)
        try await application().test(.live) { client in
            let invalid = ByteBuffer(bytes: Array(#"{"prompt":"p","a":""#.utf8) + [0xC3, 0x28] + Array(#"","b":"y"}"#.utf8))
            try await client.execute(uri: "/v1/compare", method: .post, body: invalid) { response in
                XCTAssertEqual(response.status, .badRequest, Self.text(response))
                XCTAssertTrue(Self.text(response).contains("not valid UTF-8 (byte 19)"), Self.text(response))
            }
            // 3000 tokens exceed any candidate budget (at most 1022 with a short prompt): truncated as
            // LLM-Blender does, unless the request asks for 413 instead.
            let long = #"{"prompt":"p","a":""# + String(repeating: "word ", count: 3000) + #"","b":"y"}"#
            try await client.execute(uri: "/v1/compare", method: .post, body: ByteBuffer(string: long)) { XCTAssertEqual($0.status, .ok) }
            try await client.execute(uri: "/v1/compare?truncate=false", method: .post, body: ByteBuffer(string: long)) { response in
                XCTAssertEqual(response.status, .contentTooLarge, Self.text(response))
            }
            try await client.execute(uri: "/v1/compare?truncate=maybe", method: .post, body: ByteBuffer(string: long)) { XCTAssertEqual($0.status, .badRequest) }
            let tei = #"{"query":"p","texts":["x",""# + String(repeating: "word ", count: 3000) + #""],"truncate":false}"#
            try await client.execute(uri: "/rerank", method: .post, body: ByteBuffer(string: tei)) { XCTAssertEqual($0.status, .contentTooLarge) }
        }
    }

    /// /health is 503 "loading" until the model is there (scoring answers 503 meanwhile), 200 when
    /// ready, and 503 "draining" after SIGTERM while requests are still served.
    func testHealthFollowsLoadingReadyAndDraining() async throws {
        let state = ServerState()
        try await application(state: state).test(.live) { client in
            let compare = ByteBuffer(string: #"{"prompt":"p","a":"x","b":"y"}"#)
            try await client.execute(uri: "/health", method: .get) { response in
                XCTAssertEqual(response.status, .serviceUnavailable)
                XCTAssertEqual(Self.text(response), #"{"status":"loading"}"#)
            }
            try await client.execute(uri: "/v1/compare", method: .post, body: compare) { response in
                XCTAssertEqual(response.status, .serviceUnavailable)
                XCTAssertNotNil(response.headers[.retryAfter])
            }
            state.becomeReady(try Self.ranker.get())
            try await client.execute(uri: "/health", method: .get) { XCTAssertEqual($0.status, .ok) }
            state.beginDraining()
            try await client.execute(uri: "/health", method: .get) { response in
                XCTAssertEqual(response.status, .serviceUnavailable)
                XCTAssertEqual(Self.text(response), #"{"status":"draining"}"#)
            }
            try await client.execute(uri: "/v1/compare", method: .post, body: compare) { XCTAssertEqual($0.status, .ok, "still served while draining") }
        }
    }

    func testARequestPastItsDeadlineGets503() async throws {
        try await application { $0.requestTimeout = 1e-6 }.test(.live) { client in
            try await client.execute(uri: "/v1/compare", method: .post, body: ByteBuffer(string: #"{"prompt":"p","a":"x","b":"y"}"#)) { response in
                XCTAssertEqual(response.status, .serviceUnavailable)
                XCTAssertTrue(Self.text(response).contains("\"error_type\":\"Timeout\""), Self.text(response))
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                XCTAssertTrue(String(buffer: response.body).contains(#"pairrm_errors_total{error_type="Timeout"} 1"#), String(buffer: response.body))
            }
        }
    }

    /// The service lifecycle: the model is loaded after the server listens, and a graceful
    /// shutdown turns /health to "draining" before the server stops.
    func testLifecycleServiceLoadsThenDrains() async throws {
        let state = ServerState()
        let ranker = try Self.ranker.get()
        let service = ModelLifecycleService(state: state, drainSeconds: 0, logger: Logger(label: "test")) { ranker }
        let group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        for _ in 0..<500 where state.phase == .loading { try await Task.sleep(nanoseconds: 2_000_000) }
        XCTAssertEqual(state.phase, .ready)
        await group.triggerGracefulShutdown()
        try await running.value
        XCTAssertEqual(state.phase, .draining)
    }

    func testBearerTokenComparisonIsExact() {
        XCTAssertTrue(ScoringServer.constantTimeEqual(Array("Bearer k".utf8), Array("Bearer k".utf8)))
        XCTAssertFalse(ScoringServer.constantTimeEqual(Array("Bearer k".utf8), Array("Bearer kk".utf8)))
        XCTAssertFalse(ScoringServer.constantTimeEqual(Array("Bearer j".utf8), Array("Bearer k".utf8)))
        XCTAssertFalse(ScoringServer.constantTimeEqual([], Array("Bearer k".utf8)))
    }
}

/// The admission gate on its own: bounded queue, deadlines and vanished clients.
final class AdmissionGateTests: XCTestCase {
    /// Fills the gate's one worker with a job that returns 1 once `release` is signalled.
    func occupy(_ gate: AdmissionGate) -> (busy: Task<Admission<Int>, Error>, release: DispatchSemaphore) {
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let busy = Task { try await gate.run { _ in started.signal(); release.wait(); return 1 } }
        started.wait()
        return (busy, release)
    }

    /// A full queue turns requests away at once (429 in the router) instead of holding them.
    func testAFullQueueTurnsJobsAway() async throws {
        let gate = AdmissionGate(workers: 1, queueLimit: 0)
        let (busy, release) = occupy(gate)
        guard case .overloaded = try await gate.run(.unbounded(), { _ in 2 }) else { return XCTFail("no worker and no queue: turned away") }
        release.signal()
        guard case .done(1) = try await busy.value else { return XCTFail("the running job finishes") }
        guard case .done(3) = try await gate.run(.unbounded(), { _ in 3 }) else { return XCTFail("the slot is free again") }
    }

    /// A job waiting in the queue leaves it at its deadline; one whose client has gone is never run.
    func testWaitingJobsTimeOutAndVanishedClientsAreDropped() async throws {
        let gate = AdmissionGate(workers: 1, queueLimit: 4)
        let (busy, release) = occupy(gate)
        let soon = JobControl(deadline: .now + .milliseconds(50), clientGone: { false })
        let began = ContinuousClock.now
        guard case .timedOut = try await gate.run(soon, { _ in 2 }) else { return XCTFail("timed out in the queue") }
        XCTAssertLessThan(ContinuousClock.now - began, .seconds(5), "left the queue at its deadline, not when the worker freed")
        let ran = Locked(false)
        let gone = Task { try await gate.run(JobControl(deadline: .now + .seconds(60), clientGone: { true })) { _ in ran.value = true; return 3 } }
        release.signal()
        _ = try await busy.value
        guard case .clientGone = try await gone.value else { return XCTFail("dropped when its turn came") }
        XCTAssertFalse(ran.value, "no work for a client that left")
        let load = await gate.load
        XCTAssertEqual(load.running, 0)
        XCTAssertEqual(load.waiting, 0)
    }
}

/// The servers under test log only errors (the access log is checked through /metrics).
let quietLogger: Logger = {
    var logger = Logger(label: "pairrm.serve.test")
    logger.logLevel = .error
    return logger
}()
