/// A model could not be found, fetched, converted or cached. The text names what was asked for,
/// where it was looked for, and what to do.
public struct StoreError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Not a file, a checkpoint directory or a hub id.
        case notFound
        /// Offline (HF_HUB_OFFLINE or no network module) and the hub model is not cached.
        case notCached
        /// The cache could not be read or written.
        case cacheIO
        /// A checkpoint directory was found but is not a PairRM checkpoint.
        case notACheckpoint
        /// The hub refused or failed (repository, revision, file, access, transfer, checksum).
        case hub
    }

    public let kind: Kind
    public let message: String
    /// The hub's X-Error-Code (RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound) or our
    /// own short name of a transfer failure (checksum, truncated, http-<status>, network).
    public let code: String?

    public init(_ kind: Kind, _ message: String, code: String? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    public var description: String { message }
}
