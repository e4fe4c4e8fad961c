import ArgumentParser
import Foundation
import PairRMFormat

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a .prm file's metadata, sections, tensor table and quantization recipe.",
        discussion: """
        Only the structure is read and checked (header, section table, metadata,
        directory and vocabulary checksums); the weights are not read. Use `pairrm
        verify` to check them. With --json, non-finite metadata numbers (NaN,
        ±infinity) are written as the strings "NaN", "Infinity", "-Infinity" and their
        keys listed in "non_finite_metadata".

        Examples:
          pairrm inspect pairrm-q8.prm
          pairrm inspect pairrm-q8.prm --json | jq '.metadata["model.num_layers"]'
        """
    )

    @Argument(help: "The .prm file, or a checkpoint folder or hub id (its cached conversion; see --recipe).")
    var model: String

    @Option(name: .long, help: recipeHelp)
    var recipe: String = "q8"

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(help: "In text mode, list every tensor (default: the first layer and the non-layer tensors).")
    var all = false

    func run() throws {
        let file = try openModelFileOrExit(model, recipe: recipe, errorLabel: "error")
        if json { try printJSON(file) } else { printText(file) }
    }

    func printText(_ file: ModelFile) {
        let fileSize = Int(file.header.fileSize)
        print("\(file.path): .prm version \(file.header.version), \(formatBytes(fileSize)), "
              + (file.tensorsAreZeroCopy ? "tensors memory-mapped (zero-copy)" : "tensors zstd-compressed (decompressed at load)"))
        print("\nsections:")
        for section in file.sections.sorted(by: { $0.offset < $1.offset }) {
            print("  \(section.name.padding(18)) \(section.codec.description.padding(5)) offset \(String(section.offset).padding(12)) "
                  + "stored \(formatBytes(Int(section.storedSize)).padding(10)) decoded \(formatBytes(Int(section.decodedSize)))")
        }
        print("\nmetadata:")
        for (key, value) in file.metadata.entries {
            if case .array(let values) = value, values.count > 3 {
                print("  \(key) =")
                for item in values { print("      \(item)") }
            } else {
                print("  \(key) = \(value)")
            }
        }
        print("\nvocabulary: \(file.vocabulary.pieceCount) pieces, \(file.vocabulary.addedTokens.count) added tokens, charsmap \(formatBytes(file.vocabulary.charsmap.count))")
        var byType: [DType: (count: Int, bytes: Int, parameters: Int)] = [:]
        for tensor in file.tensors {
            var entry = byType[tensor.dtype] ?? (0, 0, 0)
            entry.count += 1
            entry.bytes += tensor.size
            entry.parameters += tensor.elementCount
            byType[tensor.dtype] = entry
        }
        let parameters = file.tensors.reduce(0) { $0 + $1.elementCount }
        print("\ntensors: \(file.tensors.count), \(parameters) parameters")
        for (dtype, entry) in byType.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            print("  \(dtype.description.padding(10)) \(String(entry.count).padding(5)) tensors \(formatBytes(entry.bytes).padding(10)) "
                  + "(\(String(format1: Double(entry.bytes) * 8 / Double(max(entry.parameters, 1)))) bits/parameter)")
        }
        print("")
        var hidden = 0
        for tensor in file.tensors {
            let inLaterLayer = tensor.name.contains("encoder.layer.") && !tensor.name.contains("encoder.layer.0.")
            if inLaterLayer && !all { hidden += 1; continue }
            print("  \(tensor.name.padding(66)) \(tensor.dtype.description.padding(10)) \(String(describing: tensor.shape).padding(14)) \(formatBytes(tensor.size))")
        }
        if hidden > 0 { print("  … and \(hidden) more tensors of layers 1 and up (--all lists them)") }
    }

    func printJSON(_ file: ModelFile) throws {
        // JSON has no NaN or infinity: such values are written as the strings "NaN", "Infinity"
        // and "-Infinity", and their keys are listed in "non_finite_metadata".
        var nonFinite: [String] = []
        func value(_ item: MetadataValue, key: String) -> Any {
            switch item {
            case .bool(let flag): return flag
            case .int(let number): return number
            case .double(let number):
                guard number.isFinite else {
                    if !nonFinite.contains(key) { nonFinite.append(key) }
                    return number.isNaN ? "NaN" : number < 0 ? "-Infinity" : "Infinity"
                }
                return number
            case .string(let text): return text
            case .array(let values): return values.map { value($0, key: key) }
            }
        }
        var metadata: [String: Any] = [:]
        for (key, item) in file.metadata.entries { metadata[key] = value(item, key: key) }
        let object: [String: Any] = [
            "path": file.path,
            "version": Int(file.header.version),
            "file_size": Int(file.header.fileSize),
            "zero_copy": file.tensorsAreZeroCopy,
            "sections": file.sections.map { ["kind": $0.name, "codec": $0.codec.description, "offset": Int($0.offset),
                                              "stored_size": Int($0.storedSize), "decoded_size": Int($0.decodedSize),
                                              "checksum": String($0.checksum, radix: 16)] as [String: Any] },
            "metadata": metadata,
            "vocabulary": ["pieces": file.vocabulary.pieceCount, "added_tokens": file.vocabulary.addedTokens.map {
                ["id": $0.id, "content": $0.content, "special": $0.special, "normalized": $0.normalized] as [String: Any]
            }] as [String: Any],
            "tensors": file.tensors.map { ["name": $0.name, "dtype": $0.dtype.description, "shape": $0.shape,
                                           "offset": $0.offset, "size": $0.size, "checksum": String($0.checksum, radix: 16)] as [String: Any] },
        ]
        var complete = object
        if !nonFinite.isEmpty {
            complete["non_finite_metadata"] = nonFinite
            printError("note: \(file.path): metadata \(nonFinite.joined(separator: ", ")) not finite; written as strings (\"NaN\", \"Infinity\", \"-Infinity\")")
        }
        guard JSONSerialization.isValidJSONObject(complete),
              let data = try? JSONSerialization.data(withJSONObject: complete, options: [.prettyPrinted, .sortedKeys]) else {
            printError("error: \(file.path): its metadata cannot be written as JSON; use `pairrm inspect` without --json")
            throw ExitCode(1)
        }
        print(String(decoding: data, as: UTF8.self))
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
