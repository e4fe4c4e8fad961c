import Foundation
import XCTest
@testable import PairRM

/// Our results against LLM-Blender's own code on the tiny checkpoint
/// (Tests/Fixtures/parity/blender-tiny.json, made by Tools/python/pairrm_reference/parity/make_parity.py):
/// logits and scores within 1e-4, ranks, verdicts and choices exactly.
final class ParityTests: XCTestCase {
    let tolerance: Float = 1e-4
    var worst: Float = 0

    func close(_ actual: Float, _ expected: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        worst = max(worst, abs(actual - expected))
        XCTAssertEqual(actual, expected, accuracy: tolerance, what, file: file, line: line)
    }

    override func tearDown() {
        print("\(name): max |ours − Blender| = \(worst)")
    }

    func testCompareAllModes() throws {
        let ranker = try TestSupport.ranker()
        for (k, c) in try TestSupport.parity().cases("compare").enumerated() {
            let (x, a, b, instruction) = (try c.string("prompt"), try c.string("a"), try c.string("b"), c.optionalString("instruction") ?? "")
            // The exact ids Blender's collator + cat_ids fed the backbone ([SEP] rewrite, truncation).
            let input = try ranker.prepare(prompt: x, instruction: instruction, candidates: [a, b], options: ranker.defaults)
            XCTAssertEqual(input.pair(0, 1).ids.map(Int.init), try c.ints("ids_ab"), "case \(k) ids")
            for (key, mode) in [("ab", CompareMode.ab), ("ba", .ba), ("both", .both)] {
                let result = try ranker.compare(x, a, b, instruction: instruction, mode: mode)
                close(result.logit, try c.float("logit_" + key), "case \(k) \(mode.rawValue)")
                XCTAssertEqual(result.blenderResult, try c.bool("result_" + key), "case \(k) \(mode.rawValue) verdict")
            }
            // Our verdict is about A in every mode: [B,A] agrees with [A,B] on which side L prefers.
            let ba = try ranker.compare(x, a, b, instruction: instruction, mode: .ba)
            XCTAssertEqual(ba.aBetter, try c.float("logit_ba") < 0, "case \(k) [B,A] aBetter")
        }
    }

    func testRankScoresRanksAndForwardCount() throws {
        let ranker = try TestSupport.ranker()
        for (k, c) in try TestSupport.parity().cases("rank").enumerated() {
            var options = ranker.defaults
            if let s = c.values["source_max_length"] as? Int { options.sourceMaxLength = s }
            if let s = c.values["candidate_max_length"] as? Int { options.candidateMaxLength = s }
            for batchSize in [1, 3] {
                options.batchSize = batchSize
                let r = try ranker.rank(try c.string("prompt"), try c.strings("candidates"), instruction: c.optionalString("instruction") ?? "",
                                        options: options)
                XCTAssertEqual(r.ranks, try c.ints("ranks"), "case \(k) ranks")
                XCTAssertEqual(r.forwardPasses, try c.int("forwards"), "case \(k) forwards")
                for (i, (ours, theirs)) in zip(r.scores!, try c.floats("scores")).enumerated() { close(ours, theirs, "case \(k) score \(i)") }
            }
        }
    }

    func testRankWithReferenceEveryMode() throws {
        let ranker = try TestSupport.ranker()
        for (k, c) in try TestSupport.parity().cases("rank_with_ref").enumerated() {
            let mode = ReferenceMode(rawValue: try c.string("ref_mode"))!
            let r = try ranker.rankWithReference(try c.string("prompt"), try c.strings("candidates"), instruction: c.optionalString("instruction") ?? "",
                                                 refMode: mode, reference: c.optionalString("reference"))
            XCTAssertEqual(r.ranks, try c.ints("ranks"), "case \(k) \(mode) ranks")
            for (i, (ours, theirs)) in zip(r.scores!, try c.floats("scores")).enumerated() { close(ours, theirs, "case \(k) \(mode) score \(i)") }
            // The reference scores exactly −0.0 against itself, as in Blender.
            if c.optionalString("reference") == nil {
                let ref = mode.pick(try c.strings("candidates"))
                XCTAssertEqual(r.scores![ref], 0)
                XCTAssertEqual(r.scores![ref].sign, .minus)
            }
        }
    }

    func testReferenceModePicksByCodePoints() {
        let c = ["Short.", "héllo wörld ça", "hello world xx", "A longer answer with several words in it.", "Tiny",
                 "A longer answer with several words in it!"]
        XCTAssertEqual(ReferenceMode.longest.pick(c), 3)       // first of the two longest
        XCTAssertEqual(ReferenceMode.shortest.pick(c), 4)
        XCTAssertEqual(ReferenceMode.medianLength.pick(c), 2)  // sorted by len: 4,0,1,2,3,5 → [3] = index 2
        XCTAssertEqual(ReferenceMode.first.pick(c), 0)
        XCTAssertEqual(ReferenceMode.last.pick(c), 5)
    }

    func testCompareConversations() throws {
        let ranker = try TestSupport.ranker()
        let parity = try TestSupport.parity()
        for (k, c) in try parity.cases("compare_conversations").enumerated() {
            for (key, mode) in [("ab", CompareMode.ab), ("ba", .ba), ("both", .both)] {
                let result = try ranker.compareConversations(try c.turns("a"), try c.turns("b"), mode: mode)
                close(result.logit, try c.float("logit_" + key), "conversation \(k) \(mode.rawValue)")
                XCTAssertEqual(result.blenderResult, try c.bool("result_" + key))
            }
        }
        for c in try parity.cases("compare_conversations_errors") {
            let expected = try c.string("error")
            XCTAssertThrowsError(try ranker.compareConversations(try c.turns("a"), try c.turns("b"))) { error in
                guard let ours = error as? PairRMError else { return XCTFail("not a PairRMError: \(error)") }
                XCTAssertEqual(ours.kind, .invalidConversation)
                var message = expected.lowercased()
                if message.hasPrefix("each ") { message.removeFirst(5) }
                XCTAssertTrue(ours.problem.lowercased().contains(message), "\(ours) vs Blender's \"\(expected)\"")
            }
        }
    }

    func testBestAndWorstOfN() throws {
        let ranker = try TestSupport.ranker()
        for (k, c) in try TestSupport.parity().cases("best_of_n").enumerated() {
            let (x, candidates, instruction) = (try c.string("prompt"), try c.strings("candidates"), c.optionalString("instruction") ?? "")
            for worst in [false, true] {
                let which = worst ? "worst" : "best"
                let select = { (strategy: SelectionStrategy) in
                    worst ? try ranker.worstOfN(x, candidates, instruction: instruction, strategy: strategy)
                          : try ranker.bestOfN(x, candidates, instruction: instruction, strategy: strategy)
                }
                let full = try select(.full)
                XCTAssertEqual(candidates[full.index], try c.string(which + "_full"), "case \(k) \(which) full")
                XCTAssertEqual(full.ordered(candidates), try c.strings(which + "_full_all"), "case \(k) \(which) full order")
                for bubble in try c.cases(which + "_bubble") {
                    let start = try bubble.ints("start_order")
                    let s = try select(.bubble(startOrder: start))
                    XCTAssertEqual(candidates[s.index], try bubble.string("choice"), "case \(k) \(which) bubble \(start)")
                    XCTAssertEqual(s.ordered(candidates), try bubble.strings("all"), "case \(k) \(which) bubble \(start) all")
                    XCTAssertEqual(s.forwardPasses, 2 * (candidates.count - 1))
                }
            }
        }
    }

    func testSeparatorLiteralReplacement() {
        XCTAssertEqual(PairRanker.replacingSeparators("a [SEP] b[SEP]c"), "a   b c")
        XCTAssertEqual(PairRanker.replacingSeparators("[SE[SEP]P]"), "[SE P]")
        XCTAssertEqual(PairRanker.replacingSeparators("[SEP][SEP]"), "  ")
        XCTAssertEqual(PairRanker.replacingSeparators("héllo [sep]"), "héllo [sep]")
    }
}
