import Foundation
import Hummingbird
import HummingbirdTesting
import PairRM
import PairRMTestSupport
@testable import PairRMServer
import XCTest

/// Jina/Cohere /v1/rerank, vLLM /score, OpenRLHF /get_reward and /metrics, checked against the
/// Swift API on the tiny model.
final class CompatibleEndpointTests: XCTestCase {
    static let ranker = Result { try PairRanker(path: ConvertedFixtures.model(.f32)) }

    func application() throws -> some ApplicationProtocol {
        Application(router: ScoringServer.router(ranker: try Self.ranker.get(), configuration: ServerConfiguration()))
    }

    static func object(_ response: TestResponse) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any])
    }

    func testJinaCohereRerankAndVLLMScore() async throws {
        let ranker = try Self.ranker.get()
        let documents = ["4", "5", "four"]
        let scores = try XCTUnwrap(try ranker.rank("2+2?", documents).scores)
        let best = scores.indices.max { scores[$0] < scores[$1] }!
        try await application().test(.router) { client in
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
        try await application().test(.router) { client in
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
        try await application().test(.router) { client in
            try await client.execute(uri: "/v1/compare", method: .post, body: ByteBuffer(string: #"{"prompt":"p","a":"x","b":"y"}"#)) { _ in }
            try await client.execute(uri: "/v1/compare", method: .post, body: ByteBuffer(string: "nope")) { _ in }
            try await client.execute(uri: "/metrics", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let text = String(buffer: response.body)
                XCTAssertTrue(text.contains(#"pairrm_requests_total{endpoint="/v1/compare",status="200"} 1"#), text)
                XCTAssertTrue(text.contains(#"pairrm_requests_total{endpoint="/v1/compare",status="400"} 1"#), text)
                XCTAssertTrue(text.contains(#"pairrm_request_duration_seconds_count{endpoint="/v1/compare"} 2"#), text)
                XCTAssertTrue(text.contains("pairrm_scoring_waiting 0"), text)
            }
        }
    }
}

extension CompatibleEndpointTests {
    /// The served document is the checked-in Formats/openapi.json and names every route.
    func testOpenAPIDocumentIsServedAndCoversEveryRoute() async throws {
        let file = try String(contentsOf: TestPaths.repository.appendingPathComponent("Formats/openapi.json"), encoding: .utf8)
        XCTAssertEqual(ScoringServer.openAPIDocument, file, "run python3 Tools/server/make_openapi_swift.py")
        let paths = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(file.utf8)) as? [String: Any])?["paths"] as? [String: Any])
        for route in ["/health", "/info", "/metrics", "/openapi.json", "/rerank", "/v1/rerank", "/score", "/get_reward"]
            + ScoringServer.tasks.map(\.path) {
            XCTAssertNotNil(paths[route], route)
        }
        try await application().test(.router) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(String(buffer: response.body), file)
            }
        }
    }
}
