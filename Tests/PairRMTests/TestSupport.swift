import Foundation
import PairRM
import PairRMConverter
import PairRMTestSupport
import XCTest

/// The tiny f32 model (converted once per test process by PairRMTestSupport) and the Blender
/// parity fixture.
enum TestSupport {
    static let repository = TestPaths.repository

    static func modelPath() throws -> String { try ConvertedFixtures.model(.f32) }

    private static let shared: Result<PairRanker, Error> = Result { try PairRanker(path: modelPath()) }

    /// One ranker for the whole process (it is Sendable and pooled: this is how apps use it).
    static func ranker() throws -> PairRanker { try shared.get() }

    static func parity() throws -> FixtureObject {
        try FixtureObject(contentsOf: repository.appendingPathComponent("Tests/Fixtures/parity/blender-tiny.json"))
    }
}

extension FixtureObject {
    func cases(_ key: String) throws -> [FixtureObject] { try objects(key) }
    func turns(_ key: String) throws -> [Turn] {
        try objects(key).map { Turn(role: try $0.string("role"), content: try $0.string("content")) }
    }
}
