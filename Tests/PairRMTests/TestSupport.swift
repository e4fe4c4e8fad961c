import Foundation
import PairRM
import PairRMConverter
import XCTest

/// The tiny f32 model converted once per test process, and the Blender parity fixture.
enum TestSupport {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private static let converted: Result<String, Error> = Result(catching: convert)

    private static func convert() throws -> String {
        let directory = NSTemporaryDirectory() + "pairrm-tests-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let output = directory + "/tiny-f32.prm"
        _ = try Converter.convert(directory: repository.appendingPathComponent("Tests/Fixtures/checkpoints/tiny-pairrm-hf").path,
                                  output: output, options: ConversionOptions(weights: .f32))
        return output
    }

    static func modelPath() throws -> String { try converted.get() }

    private static let shared: Result<PairRanker, Error> = Result { try PairRanker(path: modelPath()) }

    /// One ranker for the whole process (it is Sendable and pooled: this is how apps use it).
    static func ranker() throws -> PairRanker { try shared.get() }

    static func parity() throws -> [String: Any] {
        let url = repository.appendingPathComponent("Tests/Fixtures/parity/blender-tiny.json")
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }
}

extension Dictionary where Key == String, Value == Any {
    func string(_ key: String) -> String { self[key] as! String }
    func optionalString(_ key: String) -> String? { self[key] as? String }
    func strings(_ key: String) -> [String] { self[key] as! [String] }
    func float(_ key: String) -> Float { (self[key] as! NSNumber).floatValue }
    func double(_ key: String) -> Double { (self[key] as! NSNumber).doubleValue }
    func bool(_ key: String) -> Bool { (self[key] as! NSNumber).boolValue }
    func ints(_ key: String) -> [Int] { (self[key] as! [NSNumber]).map(\.intValue) }
    func floats(_ key: String) -> [Float] { (self[key] as! [NSNumber]).map(\.floatValue) }
    func cases(_ key: String) -> [[String: Any]] { self[key] as! [[String: Any]] }
    func turns(_ key: String) -> [Turn] {
        (self[key] as! [[String: String]]).map { Turn(role: $0["role"]!, content: $0["content"]!) }
    }
}
