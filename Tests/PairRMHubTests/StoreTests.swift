import Foundation
import PairRMConverter
import PairRMFormat
import PairRMHub
import PairRMStore
import XCTest

/// Model names, cache places and settings, as the environment decides them.
final class StoreTests: XCTestCase {
    func testHubIDsAreParsedStrictly() {
        let plain = HubModelID("llm-blender/PairRM")
        XCTAssertEqual(plain?.repo, "llm-blender/PairRM")
        XCTAssertEqual(plain?.revision, "main")
        XCTAssertEqual(plain?.revisionGiven, false)
        XCTAssertEqual(plain?.cacheFolderName, "models--llm-blender--PairRM")
        let pinned = HubModelID("llm-blender/PairRM-hf@refs/pr/1")
        XCTAssertEqual(pinned?.revision, "refs/pr/1")
        XCTAssertEqual(pinned?.revisionGiven, true)
        XCTAssertTrue(HubModelID("org/name@" + String(repeating: "ab", count: 20))!.revisionIsCommit)
        for bad in ["PairRM", "a/b/c", "org/", "/name", "org/na me", "org/-name", "org/name.", "org/na--me", "org/na..me",
                    "org/name@", "org/name@../x", "org/name@a//b", "org/name@/abs", String(repeating: "x", count: 97) + "/name"] {
            XCTAssertNil(HubModelID(bad), bad)
        }
    }

    func testCachePlacesFollowTheEnvironmentLikeThePythonTools() {
        let bare = StoreEnvironment(["HOME": "/home/u"])
        XCTAssertEqual(bare.hubCacheRoot, "/home/u/.cache/huggingface/hub")
        XCTAssertEqual(bare.convertedCacheRoot, "/home/u/.cache/pairrm")
        XCTAssertEqual(bare.llmBlenderFolder(for: HubModelID("llm-blender/PairRM")!), "/home/u/.cache/huggingface/hub/llm-blender/PairRM")
        XCTAssertEqual(bare.defaultModel, "llm-blender/PairRM")
        XCTAssertFalse(bare.offline)
        let xdg = StoreEnvironment(["HOME": "/home/u", "XDG_CACHE_HOME": "/x"])
        XCTAssertEqual(xdg.hubCacheRoot, "/x/huggingface/hub")
        XCTAssertEqual(xdg.convertedCacheRoot, "/x/pairrm")
        XCTAssertEqual(StoreEnvironment(["HOME": "/h", "HF_HOME": "~/hf"]).hubCacheRoot, "/h/hf/hub")
        let explicit = StoreEnvironment(["HOME": "/h", "HF_HOME": "/hf", "HF_HUB_CACHE": "/cache", "PAIRRM_CACHE": "/p",
                                         "TRANSFORMERS_CACHE": "/t", "PAIRRM_MODEL": "m.prm", "HF_HUB_OFFLINE": "true"])
        XCTAssertEqual(explicit.hubCacheRoot, "/cache")
        XCTAssertEqual(explicit.convertedCacheRoot, "/p")
        XCTAssertEqual(explicit.llmBlenderFolder(for: HubModelID("a/b")!), "/t/a/b")
        XCTAssertEqual(explicit.defaultModel, "m.prm")
        XCTAssertTrue(explicit.offline)
        for value in ["1", "ON", "yes", "TRUE"] { XCTAssertTrue(StoreEnvironment(["HF_HUB_OFFLINE": value]).offline, value) }
        for value in ["0", "", "off", "false"] { XCTAssertFalse(StoreEnvironment(["HF_HUB_OFFLINE": value]).offline, value) }
    }

    func testSettingsReadTheEndpointTokenAndProxy() throws {
        let home = NSTemporaryDirectory() + "pairrm-settings-\(getpid())"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        try "hf_from_file\n".write(toFile: home + "/token", atomically: true, encoding: .utf8)
        let fromFile = HubSettings(environment: StoreEnvironment(["HOME": "/nowhere", "HF_HOME": home, "HF_ENDPOINT": "https://mirror.example/"]))
        XCTAssertEqual(fromFile.endpoint, "https://mirror.example")
        XCTAssertEqual(fromFile.token, "hf_from_file")
        XCTAssertNil(fromFile.proxy)
        XCTAssertEqual(HubSettings(environment: StoreEnvironment(["HF_HOME": home, "HF_TOKEN": "hf_env"])).token, "hf_env")
        XCTAssertNil(HubSettings(environment: StoreEnvironment(["HOME": "/nowhere", "HF_HOME": "/nowhere"])).token)

        let proxied = HubSettings(environment: StoreEnvironment(["HTTPS_PROXY": "http://user:pw@proxy.local:3128"]))
        XCTAssertEqual(proxied.endpoint, "https://huggingface.co")
        XCTAssertEqual(proxied.proxy, HubSettings.ProxySetting(host: "proxy.local", port: 3128, username: "user", password: "pw"))
        XCTAssertNil(HubSettings(environment: StoreEnvironment(["HTTPS_PROXY": "proxy:1", "NO_PROXY": "localhost,.huggingface.co"])).proxy)
        XCTAssertNil(HubSettings(environment: StoreEnvironment(["HTTP_PROXY": "proxy:1"])).proxy, "an https endpoint uses HTTPS_PROXY")
        XCTAssertEqual(HubSettings(environment: StoreEnvironment(["https_proxy": "proxy:8080"])).proxy?.port, 8080)
    }

    func testPathsComeBeforeHubIdsAndMistakesAreNamed() throws {
        let root = NSTemporaryDirectory() + "pairrm-locate-\(getpid())"
        try FileManager.default.createDirectory(atPath: root + "/org/name", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let locator = ModelLocator(environment: StoreEnvironment(["HOME": root, "HF_HUB_CACHE": root + "/hub"]))
        _ = FileManager.default.createFile(atPath: root + "/m.prm", contents: Data([1]))
        XCTAssertEqual(try locator.locate(root + "/m.prm"), .modelFile(path: root + "/m.prm"))
        XCTAssertEqual(try locator.locate("~/m.prm"), .modelFile(path: root + "/m.prm"))
        XCTAssertThrowsError(try locator.locate(root + "/org/name")) { error in
            XCTAssertEqual((error as? StoreError)?.kind, .notACheckpoint)
        }
        for missing in ["./missing", "missing.prm", "/abs/org/name", "no-slash"] {
            XCTAssertThrowsError(try locator.locate(missing), missing) { error in
                XCTAssertEqual((error as? StoreError)?.kind, .notFound)
                XCTAssertTrue("\(error)".contains(missing))
            }
        }
        XCTAssertEqual(try locator.locate("org/model"), .hubNotCached(HubModelID("org/model")!))
    }

    func testConvertedCacheListsAndPrunesStaleEntries() throws {
        let root = NSTemporaryDirectory() + "pairrm-prune-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let checkpoint = root + "/ckpt"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: HubClientTests.checkpoint, toPath: checkpoint)
        let store = ModelStore(environment: StoreEnvironment(["HOME": root, "PAIRRM_CACHE": root + "/cache", "HF_HUB_CACHE": root + "/hub"]))
        let first = try store.resolve(checkpoint, recipe: .q4)
        XCTAssertEqual(try store.resolve(checkpoint, recipe: .q4), first, "converted once, then reused")
        let entry = try XCTUnwrap(store.converted.entries().first)
        XCTAssertEqual(entry.recipe, "q4")
        XCTAssertEqual(entry.converterVersion, PairRMVersion.string)
        XCTAssertEqual(entry.checkpoint, checkpoint)
        XCTAssertNil(store.converted.staleReason(entry))

        // An edited checkpoint is converted again; the old file becomes stale.
        let config = checkpoint + "/config.json"
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try (text + "\n").write(toFile: config, atomically: true, encoding: .utf8)
        let second = try store.resolve(checkpoint, recipe: .q4)
        XCTAssertNotEqual(second.path, first.path)
        let stale = store.converted.entries().filter { store.converted.staleReason($0) != nil }
        XCTAssertEqual(stale.map(\.path), [first.path])
        try store.converted.remove(first.path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: first.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: (first.path as NSString).deletingLastPathComponent), "empty folders go too")
        XCTAssertEqual(store.converted.entries().map(\.path), [second.path])

        // A leftover of a conversion whose process is gone is found.
        let leftover = (second.path as NSString).deletingLastPathComponent + "/q8.v\(PairRMVersion.string).prm.tmp.999999999"
        _ = FileManager.default.createFile(atPath: leftover, contents: Data([0]))
        XCTAssertEqual(store.converted.abandonedTemporaryFiles(), [leftover])
    }

    func testOneVersionEverywhere() throws {
        let repository = HubClientTests.repository.path
        let install = try String(contentsOfFile: repository + "/Tools/install.sh", encoding: .utf8)
        XCTAssertTrue(install.contains("Sources/PairRMFormat/Version.swift"), "install.sh takes pairrm.pc's version from Version.swift")
        let changelog = try String(contentsOfFile: repository + "/CHANGELOG.md", encoding: .utf8)
        XCTAssertTrue(changelog.contains("## \(PairRMVersion.string)"), "CHANGELOG.md has an entry for \(PairRMVersion.string)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: repository + "/LICENSE"))
        let binding = try String(contentsOfFile: repository + "/Tools/python/binding/pyproject.toml", encoding: .utf8)
        XCTAssertTrue(binding.contains("dynamic = [\"version\"]"), "the Python package's version is not written in pyproject.toml")
        XCTAssertTrue(binding.contains("version-file = \"../../../Sources/PairRMFormat/Version.swift\""), "the Python package's build reads Version.swift")
    }
}
