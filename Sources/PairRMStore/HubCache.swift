import Foundation

/// The Hugging Face hub cache, in the layout huggingface_hub writes and reads, so that one
/// download serves the Python tools and us:
///
///     <root>/models--org--name/blobs/<etag>                  file contents, named by ETag
///     <root>/models--org--name/blobs/<etag>.incomplete       a download in progress (resumable)
///     <root>/models--org--name/snapshots/<commit>/<file>      symlink -> ../../blobs/<etag>
///     <root>/models--org--name/refs/<revision>                the commit a branch or tag pointed at
///     <root>/models--org--name/.no_exist/<commit>/<file>      the file is known to be absent
///     <root>/.locks/models--org--name/<etag>.lock             held while a blob is written
public struct HubCache: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public func repoFolder(_ id: HubModelID) -> String { root + "/" + id.cacheFolderName }
    public func blobPath(_ id: HubModelID, etag: String) -> String { repoFolder(id) + "/blobs/" + etag }
    public func snapshotFolder(_ id: HubModelID, commit: String) -> String { repoFolder(id) + "/snapshots/" + commit }
    public func refPath(_ id: HubModelID) -> String { repoFolder(id) + "/refs/" + id.revision }
    public func lockPath(_ id: HubModelID, etag: String) -> String { root + "/.locks/" + id.cacheFolderName + "/" + etag + ".lock" }
    public func noExistPath(_ id: HubModelID, commit: String, file: String) -> String {
        repoFolder(id) + "/.no_exist/" + commit + "/" + file
    }

    /// The commit the cache holds for `id`: the revision itself when it is a commit with a
    /// snapshot, else what `refs/<revision>` says.
    public func cachedCommit(_ id: HubModelID) -> String? {
        if id.revisionIsCommit {
            return FileManager.default.fileExists(atPath: snapshotFolder(id, commit: id.revision)) ? id.revision : nil
        }
        guard let data = FileManager.default.contents(atPath: refPath(id)),
              let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              HubModelID.isCommit(text) else { return nil }
        return text
    }

    /// The snapshot folder of `id` when the cache has one whose files are all present.
    public func completeSnapshot(_ id: HubModelID, required: (String) -> Bool) -> (folder: String, commit: String)? {
        guard let commit = cachedCommit(id) else { return nil }
        let folder = snapshotFolder(id, commit: commit)
        return required(folder) ? (folder, commit) : nil
    }

    /// Records that `revision` points at `commit` (written only for names, as huggingface_hub does).
    public func writeRef(_ id: HubModelID, commit: String) throws {
        guard !id.revisionIsCommit || id.revision != commit else { return }
        let path = refPath(id)
        try FileSystem.createDirectory((path as NSString).deletingLastPathComponent)
        try FileSystem.writeAtomically(Array(commit.utf8), to: path)
    }

    /// Makes `snapshots/<commit>/<file>` point at `blobs/<etag>` with a relative symlink (the
    /// layout huggingface_hub reads), replacing whatever was there.
    public func linkSnapshotFile(_ id: HubModelID, commit: String, file: String, etag: String) throws {
        let link = snapshotFolder(id, commit: commit) + "/" + file
        try FileSystem.createDirectory((link as NSString).deletingLastPathComponent)
        let depth = file.split(separator: "/").count + 1   // snapshots/<commit>/<dirs…>/<file>
        let target = String(repeating: "../", count: depth) + "blobs/" + etag
        // A link made under a unique name and renamed over the old one: another process reading
        // or linking the same file at the same moment never sees it missing.
        let temporary = "\(link).tmp.\(getpid()).\(UInt32.random(in: 0 ... .max))"
        guard symlink(target, temporary) == 0, rename(temporary, link) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw StoreError(.cacheIO, "cannot create the cache link \(link): \(reason); check that \(root) is writable")
        }
    }

    /// Every repository folder in the cache ("models--org--name") with its size on disk.
    public func repositories() -> [(id: String, folder: String, bytes: Int64)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.sorted().compactMap { name in
            guard name.hasPrefix("models--") else { return nil }
            let id = name.dropFirst("models--".count).replacingOccurrences(of: "--", with: "/")
            let folder = root + "/" + name
            return (id, folder, FileSystem.diskUsage(folder + "/blobs"))
        }
    }
}
