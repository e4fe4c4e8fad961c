import Dispatch
import Foundation
import Hummingbird
import HummingbirdTesting
import PairRM
import PairRMConverter
import PairRMProtocol
import PairRMTestSupport
@testable import PairRMServer
import XCTest

/// The HTTP server through Hummingbird's router test client, on the tiny model: the native
/// endpoints answer exactly what the CLI's line processor answers, and bad requests get the
/// documented status and error shape.
final class ScoringServerTests: XCTestCase {
    static let ranker = Result { try PairRanker(path: ConvertedFixtures.model(.f32)) }

    func application(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> some ApplicationProtocol {
        var configuration = ServerConfiguration()
        configure(&configuration)
        return Application(router: ScoringServer.router(ranker: try Self.ranker.get(), configuration: configuration))
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
        try await application().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { XCTAssertEqual($0.status, .ok) }
            try await client.execute(uri: "/v1/compare", method: .post, body: ByteBuffer(string: compareLine)) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(Self.text(response), expectedCompare)
            }
            try await client.execute(uri: "/v1/rank", method: .post, body: ByteBuffer(string: "[\(rankLine),\(rankLine)]")) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(Self.text(response), "[\(expectedRank),\(expectedRank)]")
            }
            try await client.execute(uri: "/info", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertTrue(Self.text(response).contains("\"queue_limit\":64"), Self.text(response))
            }
        }
    }

    func testRerankSortsTextsByPairRMScore() async throws {
        let ranker = try Self.ranker.get()
        let texts = ["4", "5", "four", "2+2 equals 4"]
        let scores = try XCTUnwrap(try ranker.rank("2+2?", texts).scores)
        let expected = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        try await application().test(.router) { client in
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
        try await application { $0.maxBodyBytes = 2048; $0.maxItemsPerRequest = 2 }.test(.router) { client in
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
            ]
            for (uri, body, status, words) in cases {
                try await client.execute(uri: uri, method: .post, body: ByteBuffer(string: body)) { response in
                    XCTAssertEqual(response.status, status, "\(uri) \(body.prefix(60))")
                    let text = Self.text(response)
                    XCTAssertTrue(text.contains("\"error_type\""), text)
                    XCTAssertTrue(text.contains(words), "\(words) missing from \(text)")
                }
            }
        }
    }

    func testBearerTokenIsRequiredWhenConfigured() async throws {
        try await application { $0.apiKey = "secret" }.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { XCTAssertEqual($0.status, .ok) }
            let body = ByteBuffer(string: #"{"prompt":"p","a":"x","b":"y"}"#)
            try await client.execute(uri: "/v1/compare", method: .post, body: body) { XCTAssertEqual($0.status, .unauthorized) }
            try await client.execute(uri: "/v1/compare", method: .post, headers: [.authorization: "Bearer secret"], body: body) {
                XCTAssertEqual($0.status, .ok)
            }
        }
    }

    /// A full queue turns requests away at once (429 in the router) instead of holding them.
    func testAFullQueueTurnsJobsAway() async throws {
        let gate = AdmissionGate(workers: 1, queueLimit: 0)
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let busy = Task { try await gate.run { started.signal(); release.wait(); return 1 } }
        started.wait()
        let refused = try await gate.run { 2 }
        XCTAssertNil(refused, "no worker and no queue: turned away")
        release.signal()
        let first = try await busy.value
        XCTAssertEqual(first, 1)
        let later = try await gate.run { 3 }
        XCTAssertEqual(later, 3, "the slot is free again")
    }
}
