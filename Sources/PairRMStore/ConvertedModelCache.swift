import Foundation
import PairRMConverter
import PairRMFormat

/// Converted `.prm` files, so a checkpoint is converted once per recipe and converter version:
///
///     <root>/hub/models--org--name/<commit>/<recipe>.v<version>.prm      from a hub snapshot
///     <root>/local/<fingerprint>/<recipe>.v<version>.prm                from any other folder
///     <file>.json                                                       what it was made from
///
/// The fingerprint of a folder is a SHA-256 of its real path and its checkpoint files' names,
/// sizes and modification times, so an edited checkpoint is converted again.
public struct ConvertedModelCache: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public func path(for origin: CheckpointOrigin, recipe: WeightsRecipe) -> String {
        let name = "\(recipe.rawValue).v\(PairRMVersion.string).prm"
        switch origin {
        case .hub(let id, let commit): return "\(root)/hub/\(id.cacheFolderName)/\(commit)/\(name)"
        case .folder(let folder): return "\(root)/local/\(ConvertedModelCache.fingerprint(folder))/\(name)"
        }
    }

    static func fingerprint(_ folder: String) -> String {
        var text = folder + "\n"
        for file in (CheckpointFiles.required + CheckpointFiles.weights + CheckpointFiles.optional).sorted() {
            var info = stat()
            guard stat(folder + "/" + file, &info) == 0 else { continue }
            text += "\(file) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\n"
        }
        var hash = SHA256Stream()
        Array(text.utf8).withUnsafeBytes { hash.update($0) }
        return String(hash.finalizeHex().prefix(16))
    }

    /// The cached file for `directory`, converting it first (under a lock, so two processes
    /// convert it once) when it is not there yet.
    public func file(converting directory: String, origin: CheckpointOrigin, recipe: WeightsRecipe, description: String,
                     events: StoreEvents) throws -> String {
        let path = path(for: origin, recipe: recipe)
        if FileSystem.isRegularFile(path) { return path }
        try FileSystem.createDirectory((path as NSString).deletingLastPathComponent)
        let lock = try FileLock(path: path + ".lock") { events.note("waiting for another process converting \(description)…") }
        defer { lock.release(); unlink(path + ".lock") }
        if FileSystem.isRegularFile(path) { return path }
        events.note("converting \(description) (recipe \(recipe.rawValue)) into \(path); this happens once")
        var options = ConversionOptions(weights: recipe)
        if FileSystem.isRegularFile(directory + "/model.safetensors"), FileSystem.isRegularFile(directory + "/pytorch_model.bin") {
            options.weightsFile = "model.safetensors"
        }
        _ = try Converter.convert(directory: directory, output: path, options: options, progress: events.conversion)
        var record: [String: Any] = ["source": description, "recipe": recipe.rawValue, "converter": PairRMVersion.string,
                                     "checkpoint": directory, "created": ISO8601DateFormatter().string(from: Date())]
        if case .hub(let id, let commit) = origin {
            record["repository"] = id.repo
            record["revision"] = id.revision
            record["commit"] = commit
        }
        if let json = try? JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys]) {
            try? FileSystem.writeAtomically([UInt8](json), to: path + ".json")
        }
        return path
    }

    /// One converted file and what its record says.
    public struct Entry: Sendable {
        public var path: String
        public var bytes: Int64
        public var source: String
        public var recipe: String
        public var converterVersion: String
        public var created: String
        /// The checkpoint folder it was made from (gone or changed folders make it stale).
        public var checkpoint: String?
        public var isCurrentVersion: Bool { converterVersion == PairRMVersion.string }
    }

    public func entries() -> [Entry] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var found: [Entry] = []
        while let relative = walker.nextObject() as? String {
            guard relative.hasSuffix(".prm") else { continue }
            let path = root + "/" + relative
            let record = (FileManager.default.contents(atPath: path + ".json"))
                .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
            let name = (relative as NSString).lastPathComponent
            let version = record["converter"] as? String
                ?? name.split(separator: ".").dropFirst().dropLast().joined(separator: ".").replacingOccurrences(of: "v", with: "")
            found.append(Entry(path: path, bytes: FileSystem.fileSize(path) ?? 0, source: record["source"] as? String ?? "(unknown)",
                               recipe: record["recipe"] as? String ?? String(name.prefix { $0 != "." }),
                               converterVersion: version, created: record["created"] as? String ?? "",
                               checkpoint: record["checkpoint"] as? String))
        }
        return found.sorted { $0.path < $1.path }
    }

    /// Why `entry` should go, or nil to keep it: made by another converter version, or from a
    /// local folder that is gone or has changed since.
    public func staleReason(_ entry: Entry) -> String? {
        if !entry.isCurrentVersion { return "made by converter \(entry.converterVersion), this is \(PairRMVersion.string)" }
        guard entry.path.hasPrefix(root + "/local/"), let checkpoint = entry.checkpoint else { return nil }
        guard FileSystem.isDirectory(checkpoint) else { return "its checkpoint \(checkpoint) is gone" }
        let expected = ConvertedModelCache.fingerprint(checkpoint)
        return entry.path.contains("/local/\(expected)/") ? nil : "its checkpoint \(checkpoint) has changed"
    }

    /// Leftovers of interrupted conversions: `*.tmp.<pid>` files whose process is gone.
    public func abandonedTemporaryFiles() -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            guard let range = relative.range(of: ".tmp.", options: .backwards),
                  let pid = Int32(relative[range.upperBound...].prefix { $0 != "." }) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { found.append(root + "/" + relative) }
        }
        return found
    }

    /// Removes a converted file, its record and its now-empty folders.
    public func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw StoreError(.cacheIO, "cannot remove \(path): \(String(cString: strerror(errno)))")
        }
        unlink(path + ".json")
        var folder = (path as NSString).deletingLastPathComponent
        while folder.hasPrefix(root + "/"), rmdir(folder) == 0 { folder = (folder as NSString).deletingLastPathComponent }
    }
}

/// How the store reports what it does: one-line notes and conversion progress.
public struct StoreEvents: Sendable {
    public var note: @Sendable (String) -> Void
    public var conversion: @Sendable (ConversionProgress) -> Void

    public init(note: @escaping @Sendable (String) -> Void = { _ in }, conversion: @escaping @Sendable (ConversionProgress) -> Void = { _ in }) {
        self.note = note
        self.conversion = conversion
    }

    public static let silent = StoreEvents()
}
