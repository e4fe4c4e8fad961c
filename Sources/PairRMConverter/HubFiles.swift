import Foundation
import PairRMFormat

/// Which files of a hub download the converter reads, found and checked before any work starts.
public struct HubFiles: Sendable {
    public var directory: String
    /// "config.json" (either form).
    public var configName: String
    /// Other config files that were read (ranker_config.json), for provenance.
    public var extraConfigs: [String]
    public var spm: String
    public var weights: String

    static let weightFiles = ["model.safetensors", "pytorch_model.bin"]

    public static func locate(directory: String, weightsFile: String?) throws -> HubFiles {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ConversionError(.missingFile, file: directory, field: "(directory)", problem: "is not a directory",
                                  fix: "pass the directory of a llm-blender/PairRM or llm-blender/PairRM-hf download")
        }
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }
        let downloadFix = "download the complete repository: config.json, spm.model, added_tokens.json, model.safetensors (or pytorch_model.bin)"

        guard exists("config.json") else {
            let hint = exists("config.bin") ? " (only the pickled config.bin of an old revision is present, which is not read for safety)" : ""
            throw ConversionError(.missingFile, file: path("config.json"), field: "(file)", problem: "is missing\(hint)", fix: downloadFix)
        }
        for required in ["spm.model", "added_tokens.json"] where !exists(required) {
            throw ConversionError(.missingFile, file: path(required), field: "(file)", problem: "is missing", fix: downloadFix)
        }
        if exists("model.safetensors.index.json") || exists("pytorch_model.bin.index.json") {
            throw ConversionError(.unsupportedConfig, file: directory, field: "(weights)",
                                  problem: "the weights are sharded into several files, which this converter does not read",
                                  fix: "merge the shards into one model.safetensors (PairRM itself ships one file)")
        }
        let weights: String
        if let weightsFile {
            guard weightFiles.contains(weightsFile), exists(weightsFile) else {
                throw ConversionError(.missingFile, file: path(weightsFile), field: "--weights-file",
                                      problem: "is not present or not one of \(weightFiles.joined(separator: ", "))", fix: downloadFix)
            }
            weights = path(weightsFile)
        } else {
            let present = weightFiles.filter(exists)
            guard present.count == 1 else {
                if present.isEmpty {
                    throw ConversionError(.missingFile, file: path("model.safetensors"), field: "(file)",
                                          problem: "no weights: neither model.safetensors nor pytorch_model.bin is present", fix: downloadFix)
                }
                throw ConversionError(.ambiguousFiles, file: directory, field: "(weights)",
                                      problem: "both model.safetensors and pytorch_model.bin are present",
                                      fix: "pass --weights-file model.safetensors or --weights-file pytorch_model.bin")
            }
            weights = path(present[0])
        }
        return HubFiles(directory: directory, configName: "config.json",
                        extraConfigs: exists("ranker_config.json") ? ["ranker_config.json"] : [],
                        spm: path("spm.model"), weights: weights)
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConversionError(.unreadableFile, file: path, field: "(file)", problem: "cannot be read", fix: "check the file and its permissions")
        }
        return [UInt8](data)
    }

    static func size(_ path: String) throws -> Int {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = (attributes?[.size] as? NSNumber)?.intValue else {
            throw ConversionError(.unreadableFile, file: path, field: "(file)", problem: "cannot be examined", fix: "check the file and its permissions")
        }
        return size
    }
}

/// SHA-256 of a file computed on a background thread, for provenance of the multi-GB weights file.
final class BackgroundSHA256: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<String, Error> = .success("")

    init(path: String) {
        Thread.detachNewThread { [self] in
            defer { done.signal() }
            guard let hex = SHA256Stream.hexDigest(ofFile: path) else {
                result = .failure(ConversionError(.unreadableFile, file: path, field: "(file)", problem: "cannot be read for hashing",
                                                  fix: "check the file and its permissions"))
                return
            }
            result = .success(hex)
        }
    }

    func wait() throws -> String {
        done.wait()
        done.signal()
        return try result.get()
    }
}
