/// Why a `.prm` file could not be read or written. Every error names the file, the field inside it
/// and what to do about it, because the person reading it usually holds a file they did not make.
public struct FormatError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        case io
        case badMagic
        case unsupportedVersion
        case truncated
        case outOfRange
        case overlap
        case overflow
        case unknownCodec
        case unknownSection
        case unknownDType
        case checksumMismatch
        case decompression
        case malformed
        case missing
    }

    public var kind: Kind
    public var file: String
    public var field: String
    public var problem: String
    public var fix: String

    public init(_ kind: Kind, file: String, field: String, problem: String, fix: String) {
        self.kind = kind
        self.file = file
        self.field = field
        self.problem = problem
        self.fix = fix
    }

    public var description: String { "\(file): \(field): \(problem) — \(fix)" }
}

/// The fix we suggest for damage that only a fresh copy can repair.
let reconvertFix = "the file is damaged or was not written by pairrm; copy it again or re-run `pairrm convert`"
