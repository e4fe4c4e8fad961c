/// A model on the Hugging Face hub as users write it: `org/name` or `org/name@revision`
/// (a branch, a tag or a 40-hex commit). Parsing is strict so that a mistyped local path is not
/// silently sent to the network as a repository name.
public struct HubModelID: Hashable, Sendable, CustomStringConvertible {
    /// "org/name".
    public let repo: String
    /// The revision asked for; "main" when none was written.
    public let revision: String
    /// Whether the user wrote `@revision` (LLM-Blender's download folder holds the default revision only).
    public let revisionGiven: Bool

    public static let defaultRevision = "main"

    public init?(_ text: String) {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        let repo = String(parts[0])
        let names = repo.split(separator: "/", omittingEmptySubsequences: false)
        guard names.count == 2, names.allSatisfy({ HubModelID.isValidName($0) }) else { return nil }
        if parts.count == 2 {
            guard HubModelID.isValidRevision(parts[1]) else { return nil }
            self.revision = String(parts[1])
            self.revisionGiven = true
        } else {
            self.revision = HubModelID.defaultRevision
            self.revisionGiven = false
        }
        self.repo = repo
    }

    public init(repo: String, revision: String) {
        self.repo = repo
        self.revision = revision
        self.revisionGiven = revision != HubModelID.defaultRevision
    }

    public var description: String { revisionGiven ? "\(repo)@\(revision)" : repo }

    /// The same repository at another revision (a resolved commit, say).
    public func at(_ revision: String) -> HubModelID { HubModelID(repo: repo, revision: revision) }

    /// The hub's folder name in its cache: "models--org--name".
    public var cacheFolderName: String { "models--" + repo.split(separator: "/").joined(separator: "--") }

    /// Whether `revision` is a full commit id (then the cache needs no ref file to find it).
    public var revisionIsCommit: Bool { HubModelID.isCommit(revision) }

    public static func isCommit<S: StringProtocol>(_ text: S) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// The hub's rule for an org or repository name: 1–96 of [A-Za-z0-9_.-], not starting or
    /// ending with "-" or ".", no "--" or "..".
    static func isValidName<S: StringProtocol>(_ name: S) -> Bool {
        guard (1...96).contains(name.utf8.count), !name.contains("--"), !name.contains("..") else { return false }
        guard let first = name.first, let last = name.last, !"-.".contains(first), !"-.".contains(last) else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2E || byte == 0x2D
        }
    }

    /// Branch and tag names may hold "/" (e.g. "refs/pr/1") but never a path step out of the
    /// cache folder, whitespace or control characters.
    static func isValidRevision<S: StringProtocol>(_ revision: S) -> Bool {
        guard (1...255).contains(revision.utf8.count), !revision.hasPrefix("/"), !revision.hasSuffix("/") else { return false }
        guard revision.split(separator: "/", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            return false
        }
        return revision.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F && $0 != 0x5C }
    }
}
