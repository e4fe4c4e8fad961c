import Foundation
import PairRM
import PairRMFormat
import PairRMHub
import PairRMStore
import XCTest

/// The hub client against a real HTTP server on loopback that speaks the hub's protocol
/// (HubTestServer), serving the tiny checkpoint in the published llm-blender/PairRM layout.
final class HubClientTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let checkpoint = repository.appendingPathComponent("Tests/Fixtures/checkpoints/tiny-pairrm-hf").path
    static let lfsFiles: Set<String> = ["model.safetensors", "spm.model"]
    static let commitA = String(repeating: "a1", count: 20)
    static let commitB = String(repeating: "b2", count: 20)
    static let repo = "llm-blender/PairRM-hf"

    var server: HubTestServer!
    var root: String!

    override func setUpWithError() throws {
        server = try HubTestServer()
        server.addCommit(repo: Self.repo, commit: Self.commitA, files: try Self.checkpointFiles())
        server.setRef(repo: Self.repo, revision: "main", commit: Self.commitA)
        root = NSTemporaryDirectory() + "pairrm-hub-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() {
        server.shutdown()
        try? FileManager.default.removeItem(atPath: root)
    }

    static func checkpointFiles(changing config: String? = nil) throws -> [HubTestServer.RepoFile] {
        let names = try FileManager.default.contentsOfDirectory(atPath: checkpoint).filter { $0 != "tokenizer.json" }
        return try names.sorted().map { name in
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: checkpoint + "/" + name)))
            if name == "config.json", let config { bytes = Array(config.utf8) }
            return HubTestServer.RepoFile(name: name, bytes: bytes, lfs: lfsFiles.contains(name))
        }
    }

    var environment: StoreEnvironment {
        StoreEnvironment(["HOME": root, "HF_HUB_CACHE": root + "/hub", "PAIRRM_CACHE": root + "/pairrm",
                          "HF_ENDPOINT": server.endpoint, "HF_HOME": root + "/hf-home"])
    }

    func client(_ environment: StoreEnvironment? = nil, token: String? = nil) -> HubClient {
        let environment = environment ?? self.environment
        var settings = HubSettings(environment: environment)
        settings.retryDelay = 0.01
        if let token { settings.token = token }
        return HubClient(settings: settings, cache: HubCache(root: environment.hubCacheRoot))
    }

    func expectHubError(_ code: String, mentioning words: [String], _ body: () throws -> Void,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? StoreError else { return XCTFail("not a StoreError: \(error)", file: file, line: line) }
            XCTAssertEqual(error.code, code, error.description, file: file, line: line)
            for word in words { XCTAssertTrue(error.description.contains(word), "\"\(word)\" missing from: \(error)", file: file, line: line) }
        }
    }

    func contents(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

    /// Every file of the snapshot equals the fixture's, through a relative link into blobs/.
    func assertSnapshotMatchesFixture(_ folder: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for item in try Self.checkpointFiles() {
            let path = folder + "/" + item.name
            let target = try FileManager.default.destinationOfSymbolicLink(atPath: path)
            XCTAssertTrue(target.hasPrefix("../../blobs/"), "\(item.name) -> \(target)", file: file, line: line)
            XCTAssertEqual(contents(path), item.bytes, item.name, file: file, line: line)
        }
    }

    // MARK: - The happy path, in the layout the Python tools share

    func testFetchWritesTheHuggingFaceCacheLayoutAndConvertsOnce() throws {
        let snapshot = try client().fetchSnapshot(HubModelID(Self.repo)!)
        XCTAssertEqual(snapshot.commit, Self.commitA)
        let repoFolder = root + "/hub/models--llm-blender--PairRM-hf"
        XCTAssertEqual(snapshot.folder, repoFolder + "/snapshots/" + Self.commitA)
        XCTAssertEqual(String(decoding: contents(repoFolder + "/refs/main") ?? [], as: UTF8.self), Self.commitA)
        try assertSnapshotMatchesFixture(snapshot.folder)
        let weights = try Self.checkpointFiles().first { $0.name == "model.safetensors" }!
        XCTAssertEqual(contents(repoFolder + "/blobs/" + HubTestServer.sha256Hex(weights.bytes)), weights.bytes,
                       "an LFS blob is named by its sha256, as huggingface_hub names it")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: repoFolder + "/blobs").filter { $0.hasSuffix(".incomplete") }, [])
        XCTAssertFalse(server.requests.contains { $0.uri.contains("tokenizer.json") }, "files conversion does not read are not fetched")

        // Resolving converts once into the converted cache, then reuses it without the network.
        let store = ModelStore(environment: environment)
        let resolved = try store.resolve(Self.repo, recipe: .q8, fetch: { [hub = client()] in try hub.fetchSnapshot($0) })
        XCTAssertTrue(resolved.path.hasPrefix(root + "/pairrm/hub/models--llm-blender--PairRM-hf/\(Self.commitA)/q8.v"), resolved.path)
        let file = try ModelFile(path: resolved.path)
        XCTAssertEqual(file.metadata.string("general.weights"), "q8")
        server.clearLog()
        var offline = environment
        offline.variables["HF_HUB_OFFLINE"] = "1"
        XCTAssertEqual(try ModelStore(environment: offline).resolve(Self.repo, recipe: .q8, fetch: { _ in throw XCTSkip("no fetch") }).path, resolved.path)
        XCTAssertEqual(server.requests.count, 0, "a cached model needs no request")
        XCTAssertEqual(store.converted.entries().map(\.recipe), ["q8"])
        XCTAssertNil(store.converted.staleReason(store.converted.entries()[0]))
    }

    func testAbsentOptionalFilesAreRecordedLikeHuggingFaceHub() throws {
        server.addCommit(repo: "org/lean", commit: Self.commitB, files: try Self.checkpointFiles().filter { $0.name != "ranker_config.json" })
        server.setRef(repo: "org/lean", revision: "main", commit: Self.commitB)
        let snapshot = try client().fetchSnapshot(HubModelID("org/lean")!)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/hub/models--org--lean/.no_exist/\(Self.commitB)/ranker_config.json"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: snapshot.folder + "/ranker_config.json"))
        XCTAssertTrue(CheckpointFiles.isComplete(snapshot.folder))
    }

    // MARK: - Redirects and the token

    func testTokenGoesToTheHubOnlyNeverToTheCDNAfterARedirect() throws {
        server.gate(repo: Self.repo, token: "hf_secret")
        expectHubError("GatedRepo", mentioning: [Self.repo, "HF_TOKEN"]) { _ = try client().fetchSnapshot(HubModelID(Self.repo)!) }
        server.clearLog()
        _ = try client(token: "hf_secret").fetchSnapshot(HubModelID(Self.repo)!)
        let hub = server.requests.filter { $0.server == "hub" }, cdn = server.requests.filter { $0.server == "cdn" }
        XCTAssertFalse(cdn.isEmpty, "LFS files come from the CDN host")
        XCTAssertTrue(hub.allSatisfy { $0.headers.contains { $0.0.lowercased() == "authorization" && $0.1 == "Bearer hf_secret" } })
        XCTAssertTrue(cdn.allSatisfy { !$0.headers.contains { $0.0.lowercased() == "authorization" } }, "the token followed a cross-host redirect")
    }

    func testRelativeRedirectOfARenamedRepositoryIsFollowed() throws {
        server.renameRepo(from: Self.repo, to: "llm-blender/PairRM-renamed")
        let snapshot = try client().fetchSnapshot(HubModelID(Self.repo)!)
        try assertSnapshotMatchesFixture(snapshot.folder)
        XCTAssertTrue(server.requests.contains { $0.uri.hasPrefix("/llm-blender/PairRM-renamed/resolve/") })
    }

    // MARK: - Interrupted and failing transfers

    func testAPartialDownloadResumesWithARangeRequest() throws {
        let weights = try Self.checkpointFiles().first { $0.name == "model.safetensors" }!
        let sha = HubTestServer.sha256Hex(weights.bytes)
        let blobs = root + "/hub/models--llm-blender--PairRM-hf/blobs"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        let half = weights.bytes.count / 2
        XCTAssertTrue(FileManager.default.createFile(atPath: blobs + "/\(sha).incomplete", contents: Data(weights.bytes[..<half])))
        let snapshot = try client().fetchSnapshot(HubModelID(Self.repo)!)
        try assertSnapshotMatchesFixture(snapshot.folder)
        let get = server.requests.first { $0.server == "cdn" && $0.method == "GET" && $0.uri.contains(sha) }
        XCTAssertEqual(get?.headers.first { $0.0.lowercased() == "range" }?.1, "bytes=\(half)-")
    }

    func testAServerThatIgnoresRangeRestartsTheFile() throws {
        let weights = try Self.checkpointFiles().first { $0.name == "model.safetensors" }!
        let blobs = root + "/hub/models--llm-blender--PairRM-hf/blobs"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: blobs + "/\(HubTestServer.sha256Hex(weights.bytes)).incomplete", contents: Data(weights.bytes[..<1000]))
        server.inject(.ignoreRange, repo: Self.repo, file: "model.safetensors")
        try assertSnapshotMatchesFixture(try client().fetchSnapshot(HubModelID(Self.repo)!).folder)
    }

    func testA500OnTheFirstTryIsRetried() throws {
        server.inject(.serverErrorOnce, repo: Self.repo, file: "config.json")
        server.inject(.serverErrorOnce, repo: Self.repo, file: "model.safetensors")
        try assertSnapshotMatchesFixture(try client().fetchSnapshot(HubModelID(Self.repo)!).folder)
    }

    func testABodyCutShortIsResumedWhereItStopped() throws {
        server.inject(.cutShort, repo: Self.repo, file: "model.safetensors")
        server.inject(.cutShort, repo: Self.repo, file: "added_tokens.json")
        try assertSnapshotMatchesFixture(try client().fetchSnapshot(HubModelID(Self.repo)!).folder)
        let gets = server.requests.filter { $0.server == "cdn" && $0.method == "GET" }
        XCTAssertTrue(gets.contains { $0.headers.contains { $0.0.lowercased() == "range" } }, "the second attempt asks for the rest only")
    }

    func testACorruptBlobIsDeletedAndNothingIsCached() throws {
        server.inject(.corrupt, repo: Self.repo, file: "spm.model")
        expectHubError("checksum", mentioning: [Self.repo, "spm.model", "deleted"]) { _ = try client().fetchSnapshot(HubModelID(Self.repo)!) }
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: root + "/hub/models--llm-blender--PairRM-hf/blobs")) ?? []
        let spm = try Self.checkpointFiles().first { $0.name == "spm.model" }!
        XCTAssertFalse(blobs.contains { $0.hasPrefix(HubTestServer.sha256Hex(spm.bytes)) }, "\(blobs)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/hub/models--llm-blender--PairRM-hf/snapshots/\(Self.commitA)/spm.model"))
        XCTAssertThrowsError(try ModelStore(environment: environment).resolve(Self.repo, fetch: { [hub = client()] in try hub.fetchSnapshot($0) }))
        XCTAssertEqual(ModelStore(environment: environment).converted.entries().count, 0)
    }

    // MARK: - Errors the hub reports

    func testHubErrorsNameTheRepositoryTheFileAndTheFix() throws {
        expectHubError("RepoNotFound", mentioning: ["nobody/nothing", "HF_TOKEN"]) { _ = try client().fetchSnapshot(HubModelID("nobody/nothing")!) }
        expectHubError("RevisionNotFound", mentioning: [Self.repo, "no-such-branch"]) {
            _ = try client().fetchSnapshot(HubModelID("\(Self.repo)@no-such-branch")!)
        }
        server.addCommit(repo: "org/not-pairrm", commit: Self.commitB, files: [.init(name: "config.json", bytes: Array("{}".utf8), lfs: false)])
        server.setRef(repo: "org/not-pairrm", revision: "main", commit: Self.commitB)
        expectHubError("EntryNotFound", mentioning: ["org/not-pairrm", "spm.model"]) { _ = try client().fetchSnapshot(HubModelID("org/not-pairrm")!) }
        var unreachable = environment
        unreachable.variables["HF_ENDPOINT"] = "http://127.0.0.1:1"
        var settings = HubSettings(environment: unreachable)
        settings.retryDelay = 0.01
        settings.attempts = 2
        settings.connectTimeout = 0.5
        let offline = HubClient(settings: settings, cache: HubCache(root: unreachable.hubCacheRoot))
        expectHubError("network", mentioning: [Self.repo, "config.json", "offline"]) {
            _ = try offline.fetchSnapshot(HubModelID(Self.repo)!)
        }
    }

    // MARK: - Revisions

    func testARevisionThatMovesIsFollowedAndBothSnapshotsStay() throws {
        let first = try client().fetchSnapshot(HubModelID(Self.repo)!)
        server.addCommit(repo: Self.repo, commit: Self.commitB, files: try Self.checkpointFiles())
        server.setRef(repo: Self.repo, revision: "main", commit: Self.commitB)
        let locator = ModelLocator(environment: environment)
        XCTAssertEqual(try locator.locate(Self.repo), .checkpoint(directory: first.folder, origin: .hub(HubModelID(Self.repo)!, commit: Self.commitA)),
                       "--model trusts the cache until something asks the hub again")
        let second = try client().fetchSnapshot(HubModelID(Self.repo)!)
        XCTAssertEqual(second.commit, Self.commitB)
        XCTAssertEqual(String(decoding: contents(root + "/hub/models--llm-blender--PairRM-hf/refs/main") ?? [], as: UTF8.self), Self.commitB)
        XCTAssertEqual(try locator.locate(Self.repo), .checkpoint(directory: second.folder, origin: .hub(HubModelID(Self.repo)!, commit: Self.commitB)))
        XCTAssertTrue(CheckpointFiles.isComplete(first.folder))
        XCTAssertFalse(server.requests.contains { $0.server == "cdn" && $0.uri.contains(Self.commitB) }, "unchanged blobs are not fetched again")
        // A pinned commit resolves without a ref file.
        XCTAssertEqual(try locator.locate("\(Self.repo)@\(Self.commitA)"),
                       .checkpoint(directory: first.folder, origin: .hub(HubModelID("\(Self.repo)@\(Self.commitA)")!, commit: Self.commitA)))
    }

    // MARK: - Offline

    func testOfflineWithoutACachedSnapshotSaysHowToGetOne() throws {
        var offline = environment
        offline.variables["HF_HUB_OFFLINE"] = "1"
        XCTAssertThrowsError(try ModelStore(environment: offline).resolve(Self.repo, fetch: { [hub = client()] in try hub.fetchSnapshot($0) })) { error in
            let error = error as? StoreError
            XCTAssertEqual(error?.kind, .notCached)
            XCTAssertTrue(error?.description.contains("HF_HUB_OFFLINE") ?? false)
            XCTAssertTrue(error?.description.contains("pairrm download \(Self.repo)") ?? false)
        }
        XCTAssertThrowsError(try client(offline).fetchSnapshot(HubModelID(Self.repo)!))
        XCTAssertEqual(server.requests.count, 0, "HF_HUB_OFFLINE means no network at all")
        // Without a fetcher (the C library) the store never reaches for the network either.
        XCTAssertThrowsError(try ModelStore(environment: environment).resolve(Self.repo)) { error in
            XCTAssertEqual((error as? StoreError)?.kind, .notCached)
        }
    }

    /// A cache the Python tools wrote (blobs, relative links, refs/main), and LLM-Blender's own
    /// plain download folder, are both found without a server.
    func testFindsACacheInThePythonToolsLayoutAndLLMBlendersFolder() throws {
        server.shutdown()
        let repoFolder = root + "/hub/models--llm-blender--PairRM-hf"
        let snapshot = repoFolder + "/snapshots/" + Self.commitA
        try FileManager.default.createDirectory(atPath: repoFolder + "/blobs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: repoFolder + "/refs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        for item in try Self.checkpointFiles() {
            let etag = item.lfs ? HubTestServer.sha256Hex(item.bytes) : HubTestServer.gitBlobSHA1Hex(item.bytes)
            _ = FileManager.default.createFile(atPath: repoFolder + "/blobs/" + etag, contents: Data(item.bytes))
            try FileManager.default.createSymbolicLink(atPath: snapshot + "/" + item.name, withDestinationPath: "../../blobs/" + etag)
        }
        try Self.commitA.write(toFile: repoFolder + "/refs/main", atomically: true, encoding: .utf8)
        let locator = ModelLocator(environment: environment)
        XCTAssertEqual(try locator.locate(Self.repo), .checkpoint(directory: snapshot, origin: .hub(HubModelID(Self.repo)!, commit: Self.commitA)))

        try FileManager.default.removeItem(atPath: repoFolder)
        let blender = root + "/hub/llm-blender/PairRM-hf"
        try FileManager.default.createDirectory(atPath: root + "/hub/llm-blender", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.checkpoint, toPath: blender)
        guard case .checkpoint(let folder, .folder) = try locator.locate(Self.repo) else { return XCTFail("LLM-Blender's folder was not found") }
        XCTAssertEqual(folder, blender)
        XCTAssertEqual(try locator.locate("\(Self.repo)@v2"), .hubNotCached(HubModelID("\(Self.repo)@v2")!),
                       "LLM-Blender's folder holds the default revision only")
        let resolved = try ModelStore(environment: environment).resolve(Self.repo)
        XCTAssertTrue(resolved.path.hasPrefix(root + "/pairrm/local/"), resolved.path)
    }

    // MARK: - Two processes

    func testTwoProcessesFetchingAtOnceLeaveOneIntactCopy() throws {
        let binary = Bundle.main.bundleURL.appendingPathComponent("pairrm").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("pairrm is not built next to the tests (\(binary))") }
        var variables = ProcessInfo.processInfo.environment.merging(environment.variables) { _, ours in ours }
        variables["HTTPS_PROXY"] = nil
        variables["HTTP_PROXY"] = nil
        let processes = (0..<2).map { _ -> Process in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["download", Self.repo, "--quiet"]
            process.environment = variables
            process.standardOutput = FileHandle.nullDevice
            return process
        }
        for process in processes { try process.run() }
        for process in processes { process.waitUntilExit() }
        XCTAssertEqual(processes.map(\.terminationStatus), [0, 0])
        try assertSnapshotMatchesFixture(root + "/hub/models--llm-blender--PairRM-hf/snapshots/" + Self.commitA)
        let blobs = try FileManager.default.contentsOfDirectory(atPath: root + "/hub/models--llm-blender--PairRM-hf/blobs")
        XCTAssertEqual(blobs.filter { $0.contains(".incomplete") || $0.contains(".tmp.") }, [])
        let weightDownloads = server.requests.filter { $0.server == "cdn" && $0.method == "GET" }.count
        XCTAssertLessThanOrEqual(weightDownloads, 2 * Self.lfsFiles.count)
    }
}

extension HubClientTests {
    /// The Swift API loads by hub id, fetching on first use, like Blender.loadranker.
    func testPairRankerLoadsAHubIdLikeLoadRanker() throws {
        let ranker = try PairRanker(model: Self.repo, recipe: .f32, environment: environment)
        let offline = StoreEnvironment(environment.variables.merging(["HF_HUB_OFFLINE": "1"]) { $1 })
        let again = try PairRanker(model: Self.repo, recipe: .f32, environment: offline)
        let first = try ranker.compare("2+2?", "4", "5")
        XCTAssertEqual(try again.compare("2+2?", "4", "5").logit, first.logit)
        XCTAssertTrue(first.logit.isFinite)
    }
}
