import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PairRM
import PairRMTestSupport
@testable import PairRMServer
import XCTest

/// TEI /rerank, Jina/Cohere /v1/rerank, vLLM /score, OpenRLHF /get_reward and /metrics over real
/// HTTP on a loopback port, checked against the Swift API and LLM-Blender's parity fixtures on
/// the tiny model.
final class CompatibleEndpointTests: XCTestCase {
    static let ranker = Result { try PairRanker(path: ConvertedFixtures.model(.f32)) }

    func application() throws -> some ApplicationProtocol {
        Application(router: ScoringServer.router(state: ServerState(ranker: try Self.ranker.get()), configuration: ServerConfiguration()),
                    configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: quietLogger)
    }

    static func object(_ response: TestResponse) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any])
    }

    func testJinaCohereRerankAndVLLMScore() async throws {
        let ranker = try Self.ranker.get()
        let documents = ["4", "5", "four"]
        let scores = try XCTUnwrap(try ranker.rank("2+2?", documents).scores)
        let best = scores.indices.max { scores[$0] < scores[$1] }!
        try await application().test(.live) { client in
            let body = #"{"query":"2+2?","documents":["4","5","four"],"top_n":2}"#
            try await client.execute(uri: "/v1/rerank", method: .post, body: ByteBuffer(string: body)) { response in
                XCTAssertEqual(response.status, .ok)
                let results = try XCTUnwrap(try Self.object(response)["results"] as? [[String: Any]])
                XCTAssertEqual(results.count, 2, "top_n")
                XCTAssertEqual(results[0]["index"] as? Int, best)
                XCTAssertEqual((results[0]["document"] as? [String: Any])?["text"] as? String, documents[best])
            }
            let score = #"{"text_1":"2+2?","text_2":["4","5","four"]}"#
            try await client.execute(uri: "/score", method: .post, body: ByteBuffer(string: score)) { response in
                XCTAssertEqual(response.status, .ok)
                let data = try XCTUnwrap(try Self.object(response)["data"] as? [[String: Any]])
                XCTAssertEqual(data.compactMap { $0["index"] as? Int }, [0, 1, 2], "in input order")
                let values = data.compactMap { ($0["score"] as? NSNumber)?.doubleValue }
                XCTAssertEqual(values.firstIndex(of: values.max()!), best)
            }
        }
    }

    func testOpenRLHFGetRewardWithAndWithoutReferences() async throws {
        let ranker = try Self.ranker.get()
        let withLabel = try ranker.compare("Q: 2+2? ", "4", "four").logit
        let group = try XCTUnwrap(try ranker.rank("Q: 2+2? ", ["4", "5"]).scores)
        try await application().test(.live) { client in
            let labelled = #"{"query":["Q: 2+2? 4"],"prompts":["Q: 2+2? "],"labels":["four"]}"#
            try await client.execute(uri: "/get_reward", method: .post, body: ByteBuffer(string: labelled)) { response in
                XCTAssertEqual(response.status, .ok)
                let rewards = try XCTUnwrap(try Self.object(response)["rewards"] as? [NSNumber]).map(\.floatValue)
                XCTAssertEqual(rewards, [withLabel], "the response compared with its reference")
            }
            let grouped = #"{"query":["Q: 2+2? 4","Q: 2+2? 5","Other? x"],"prompts":["Q: 2+2? ","Q: 2+2? ","Other? "]}"#
            try await client.execute(uri: "/get_reward", method: .post, body: ByteBuffer(string: grouped)) { response in
                let rewards = try XCTUnwrap(try Self.object(response)["rewards"] as? [NSNumber]).map(\.floatValue)
                XCTAssertEqual(rewards, [group[0], group[1], 0], "ranked within the prompt's group; alone: 0")
            }
            let mismatched = #"{"query":["a","b"],"labels":["x"]}"#
            try await client.execute(uri: "/get_reward", method: .post, body: ByteBuffer(string: mismatched)) { response in
                XCTAssertEqual(response.status, .unprocessableContent)
            }
        }
    }

    func testMetricsCountRequestsByEndpointAndStatus() async throws {
        try await application().test(.live) { client in
            try await client.execute(uri: "/v1/compare", method: .post, body: ByteBuffer(string: #"{"prompt":"p","a":"x","b":"y"}"#)) { _ in }
            try await client.execute(uri: "/v1/compare", method: .post, body: ByteBuffer(string: "nope")) { _ in }
            try await client.execute(uri: "/metrics", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let text = String(buffer: response.body)
                XCTAssertTrue(text.contains(#"pairrm_requests_total{endpoint="/v1/compare",status="200"} 1"#), text)
                XCTAssertTrue(text.contains(#"pairrm_requests_total{endpoint="/v1/compare",status="400"} 1"#), text)
                XCTAssertTrue(text.contains(#"pairrm_request_duration_seconds_count{endpoint="/v1/compare"} 2"#), text)
                XCTAssertTrue(text.contains("pairrm_scoring_waiting 0"), text)
                XCTAssertTrue(text.contains(#"pairrm_errors_total{error_type="Validation"} 1"#), text)
                XCTAssertTrue(text.contains("pairrm_forward_passes_total "), text)
                XCTAssertFalse(text.contains("pairrm_forward_passes_total 0\n"), "the compare ran two passes: \(text)")
            }
        }
    }
}

extension CompatibleEndpointTests {
    /// LLM-Blender's rank scores (max_logits) of the parity fixture, through /v1/rank and TEI's
    /// /rerank with raw scores, and its compare logits through /v1/compare (array form).
    func testParityFixturesThroughTheHTTPShapes() async throws {
        let parity = try FixtureObject(contentsOf: TestPaths.repository.appendingPathComponent("Tests/Fixtures/parity/blender-tiny.json"))
        let ranks = try parity.objects("rank").filter { !$0.has("source_max_length") && !$0.has("candidate_max_length") && !$0.has("instruction") }
        let compares = try parity.objects("compare").filter { !$0.has("instruction") }
        XCTAssertFalse(ranks.isEmpty)
        XCTAssertFalse(compares.isEmpty)
        func body(_ object: Any) throws -> ByteBuffer { ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object)) }
        let rankCases = try ranks.map { c in
            (rank: try body(["prompt": try c.string("prompt"), "candidates": try c.strings("candidates")]),
             rerank: try body(["query": try c.string("prompt"), "texts": try c.strings("candidates"), "raw_scores": true] as [String: Any]),
             expected: try c.floats("scores"))
        }
        let compareBody = try body(try compares.map { ["prompt": try $0.string("prompt"), "a": try $0.string("a"), "b": try $0.string("b")] })
        let compareExpected = try compares.map { try $0.float("logit_both") }
        try await application().test(.live) { client in
            for (k, c) in rankCases.enumerated() {
                try await client.execute(uri: "/v1/rank", method: .post, body: c.rank) { response in
                    let scores = try XCTUnwrap(try Self.object(response)["scores"] as? [NSNumber], "case \(k)").map(\.floatValue)
                    for (ours, theirs) in zip(scores, c.expected) { XCTAssertEqual(ours, theirs, accuracy: 1e-4, "/v1/rank case \(k)") }
                }
                try await client.execute(uri: "/rerank", method: .post, body: c.rerank) { response in
                    let results = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [[String: Any]])
                    XCTAssertEqual(results.count, c.expected.count)
                    for result in results {
                        let index = try XCTUnwrap(result["index"] as? Int)
                        XCTAssertEqual(try XCTUnwrap(result["score"] as? NSNumber).floatValue, c.expected[index], accuracy: 1e-4, "/rerank case \(k)")
                    }
                }
            }
            try await client.execute(uri: "/v1/compare", method: .post, body: compareBody) { response in
                let results = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [[String: Any]])
                XCTAssertEqual(results.count, compareExpected.count)
                for (k, (result, expected)) in zip(results, compareExpected).enumerated() {
                    XCTAssertEqual(try XCTUnwrap(result["logit"] as? NSNumber).floatValue, expected, accuracy: 1e-4, "/v1/compare case \(k)")
                }
            }
        }
    }

    /// The served document is the checked-in Formats/openapi.json and names every route.
    func testOpenAPIDocumentIsServedAndCoversEveryRoute() async throws {
        let file = try String(contentsOf: TestPaths.repository.appendingPathComponent("Formats/openapi.json"), encoding: .utf8)
        XCTAssertEqual(ScoringServer.openAPIDocument, file, "run python3 Tools/server/make_openapi_swift.py")
        let paths = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(file.utf8)) as? [String: Any])?["paths"] as? [String: Any])
        for route in ["/health", "/info", "/metrics", "/openapi.json", "/rerank", "/v1/rerank", "/score", "/get_reward"]
            + ScoringServer.tasks.map(\.path) {
            XCTAssertNotNil(paths[route], route)
        }
        try await application().test(.live) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(String(buffer: response.body), file)
            }
        }
    }
}
