import Dispatch
import XCTest
@testable import PairRM

/// Behaviour beyond the parity fixture: our own strategies, concurrency, cancellation, batches.
final class APITests: XCTestCase {
    let prompt = "What did the boy do when he was a child?"
    let candidates = ["He jumped from the second floor of the school.", "I do not know.",
                      "The boy was always getting into trouble, and his father never liked him.", "He was a child.",
                      "When he was a child he broke his arm by jumping from a window.", "Nothing happened.",
                      "He sat at home and read books all day.", "He fought with the other boys every day after school."]

    func testAggregationMatchesNumPyOrder() {
        // n = 9: 8 partial sums + 1 tail element; differs from naive left-to-right summation here.
        let values: [Float] = [1e8, 1, -1e8, 1, 1, 1, 1, 1, 0.5]
        XCTAssertEqual(Aggregation.numpyPairwiseSum(values[...]), ((1e8 + 1) + (-1e8 + 1)) + ((1 + 1) + (1 + 1)) + 0.5)
        XCTAssertEqual(Aggregation.ranks(fromScores: [0.5, 0.5, -1, 2]), [2, 2, 4, 1])
        XCTAssertEqual(Aggregation.stableArgsort([3, 1, 2, 1, 1, 5, 1, 8]), [1, 3, 4, 6, 2, 0, 5, 7])
        XCTAssertEqual(Aggregation.maxLogitsScores([[0]]), [0])
    }

    func testMergeSortAgreesWithFullMatrixAndCostsLess() throws {
        let ranker = try TestSupport.ranker()
        let full = try ranker.rank(prompt, candidates)
        let merge = try ranker.rank(prompt, candidates, strategy: .mergeSort)
        XCTAssertEqual(full.forwardPasses, 56)
        XCTAssertLessThanOrEqual(merge.forwardPasses, 34)
        XCTAssertNil(merge.scores)
        XCTAssertEqual(Set(merge.ranks), Set(1...8))
        // The random tiny model is intransitive, so the two orders differ here (full [0,2,7,3,4,5,1,6],
        // merge sort [7,0,3,2,4,5,1,6]): the documented trade-off. With two candidates both are
        // the sign of the [A,B]+[B,A] logit.
        print("full order \(full.order), merge order \(merge.order), forwards \(full.forwardPasses) vs \(merge.forwardPasses)")
        for (a, b) in [(0, 1), (2, 3), (4, 7)] {
            let pair = [candidates[a], candidates[b]]
            let logit = try ranker.compare(prompt, pair[0], pair[1]).logit
            XCTAssertEqual(try ranker.rank(prompt, pair, strategy: .mergeSort).ranks, logit >= 0 ? [1, 2] : [2, 1])
            XCTAssertEqual(try ranker.rank(prompt, pair).ranks, logit > 0 ? [1, 2] : logit < 0 ? [2, 1] : [1, 1])
        }
        // Identical candidates tie without a forward pass.
        let tied = try ranker.rank(prompt, ["same", "other", "same"], strategy: .mergeSort)
        XCTAssertEqual(tied.ranks[0], tied.ranks[2])
        XCTAssertEqual(tied.forwardPasses, 4)
    }

    func testSingleCandidateRunsNoForward() throws {
        let ranker = try TestSupport.ranker()
        XCTAssertEqual(try ranker.rank(prompt, ["only"]), Ranking(scores: [0], ranks: [1], forwardPasses: 0, matrix: [[0]]))
        XCTAssertEqual(try ranker.bestOfN(prompt, ["only"]).forwardPasses, 0)
        XCTAssertEqual(try ranker.worstOfN(prompt, ["only"], strategy: .full).index, 0)
        XCTAssertThrowsError(try ranker.rank(prompt, [])) { XCTAssertEqual(($0 as? PairRMError)?.field, "candidates") }
        XCTAssertThrowsError(try ranker.bestOfN(prompt, ["a", "b"], strategy: .bubble(startOrder: [0, 0])))
    }

    func testOptionsAreValidated() throws {
        let ranker = try TestSupport.ranker()
        var options = ranker.defaults
        options.sourceMaxLength = 2000
        XCTAssertThrowsError(try ranker.compare("p", "a", "b", options: options)) { XCTAssertEqual(($0 as? PairRMError)?.kind, .invalidArgument) }
        options = ranker.defaults
        options.threads = 0
        XCTAssertThrowsError(try ranker.compare("p", "a", "b", options: options))
        XCTAssertEqual(ranker.defaults.sourceMaxLength, 1224)
        XCTAssertEqual(ranker.defaults.candidateMaxLength, 412)
    }

    func testManyThreadsShareOneRankerWithIdenticalResults() throws {
        let ranker = try TestSupport.ranker()
        let expected = try ranker.rank(prompt, candidates)
        let results = UnsafeMutableBufferPointer<Ranking?>.allocate(capacity: 8)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        nonisolated(unsafe) let shared = results
        let (prompt, candidates) = (self.prompt, self.candidates)
        DispatchQueue.concurrentPerform(iterations: 8) { k in
            var options = ranker.defaults
            options.threads = 1 + k % 2
            options.batchSize = 1 + k % 3
            shared[k] = try? ranker.rank(prompt, candidates, options: options)
        }
        for k in 0..<8 { XCTAssertEqual(results[k], expected, "thread \(k)") }
        XCTAssertGreaterThan(ranker.pooledContexts, 0)
    }

    func testBatchProgressAndErrors() throws {
        let ranker = try TestSupport.ranker()
        let requests = [RankRequest(prompt: prompt, candidates: Array(candidates[0..<3])),
                        RankRequest(prompt: prompt, candidates: []),
                        RankRequest(prompt: "hello!", candidates: ["hi!", "f**k off!"], instruction: "Be nice. ")]
        final class Seen: @unchecked Sendable { var values: [BatchProgress] = [] }
        let seen = Seen()
        var options = ranker.defaults
        options.batchSize = 2
        let results = ranker.batch(requests, options: options, progress: { seen.values.append($0) }) { r, request, o in
            try r.rank(request.prompt, request.candidates, instruction: request.instruction, options: o)
        }
        XCTAssertEqual(results.count, 3)
        XCTAssertEqual(try results[0].get(), try ranker.rank(prompt, Array(candidates[0..<3])))
        XCTAssertThrowsError(try results[1].get())
        XCTAssertEqual(seen.values.map(\.completed), [1, 2, 3])
        XCTAssertEqual(seen.values.last?.failed, 1)
        XCTAssertThrowsError(try ranker.rank(requests)) { error in XCTAssertEqual((error as? BatchItemError)?.index, 1) }
    }

    func testCancellationToken() throws {
        let ranker = try TestSupport.ranker()
        let token = CancellationToken()
        token.cancel()
        var options = ranker.defaults
        options.cancellation = token
        XCTAssertThrowsError(try ranker.rank(prompt, candidates, options: options)) { XCTAssertTrue($0 is CancellationError) }
        XCTAssertThrowsError(try ranker.rank([RankRequest(prompt: prompt, candidates: candidates)], options: options)) {
            XCTAssertTrue($0 is CancellationError)
        }
    }

    func testAsyncBatchAndTaskCancellation() async throws {
        let ranker = try TestSupport.ranker()
        let requests = (0..<4).map { CompareRequest(prompt: prompt, a: candidates[$0], b: candidates[$0 + 1]) }
        let results = try await ranker.compare(requests)
        XCTAssertEqual(results, try requests.map { try ranker.compare($0.prompt, $0.a, $0.b) })
        let many = (0..<200).map { _ in RankRequest(prompt: self.prompt, candidates: self.candidates) }
        let task = Task { try await ranker.rank(many) }
        try await Task.sleep(nanoseconds: 50_000_000)
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("expected cancellation")
        } catch {
            XCTAssertTrue(error is CancellationError, "\(error)")
        }
    }

    func testBestOfNWithGenerator() async throws {
        let ranker = try TestSupport.ranker()
        final class Log: @unchecked Sendable { var texts: [String] = [] }
        let log = Log()
        let (samples, selection) = try await ranker.bestOfN("What did the boy do?", n: 4, instruction: "Answer briefly.",
                                                             strategy: .bubble(startOrder: [0, 1, 2, 3])) { request in
            log.texts.append(request.text)
            return ["He jumped.", "Nothing.", "He fought every day after school.", "I do not know."][request.sampleIndex]
        }
        XCTAssertEqual(log.texts, Array(repeating: "Answer briefly.\nWhat did the boy do?", count: 4))
        let direct = try ranker.bestOfN("What did the boy do?", samples, instruction: "Answer briefly.", strategy: .bubble(startOrder: [0, 1, 2, 3]))
        XCTAssertEqual(selection, direct)
    }

    func testConversationTemplate() throws {
        let pair = try ConversationPair([.user("hello"), .assistant("hi"), .user("how are you?"), .assistant("fine")],
                                        [.user("hello"), .assistant("yo"), .user("how are you?"), .assistant("bad")])
        XCTAssertEqual(pair.instruction + pair.input,
                       "Finish the following coversation in each i-th turn by filling in <Response i> with your response.USER: hello\nAssistant: <Response 1>\nUSER: how are you?\nAssistant: <Response 2>")
        XCTAssertEqual(pair.candidateA, "<Response 1>: hi\n<Response 2>: fine")
        XCTAssertEqual(pair.candidateB, "<Response 1>: yo\n<Response 2>: bad")
    }
}
