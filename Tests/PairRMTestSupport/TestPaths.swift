import Foundation

/// Where the committed fixtures are, found from this file's place in the repository (tests never
/// read files outside it).
public enum TestPaths {
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    public static let fixtures = repository.appendingPathComponent("Tests/Fixtures")
    public static let checkpoints = fixtures.appendingPathComponent("checkpoints").path

    /// A fresh folder under the temporary directory, unique to this process and `label`.
    public static func scratch(_ label: String) -> String {
        let path = NSTemporaryDirectory() + "pairrm-\(label)-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
