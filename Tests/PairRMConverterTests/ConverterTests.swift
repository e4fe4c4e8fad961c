import Foundation
import PairRMFormat
import PairRMTestSupport
import XCTest
@testable import PairRMConverter

/// End-to-end conversions of the committed tiny checkpoints (Tests/Fixtures/checkpoints, made by
/// Tools/python/pairrm_reference/make_checkpoint.py in the exact published layout), checked tensor by tensor
/// against the values the Python reference recorded in tiny-expected.json.
final class ConverterTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/checkpoints").path
    var scratch: String = ""

    override func setUpWithError() throws {
        scratch = NSTemporaryDirectory() + "pairrm-converter-tests-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    func fixture(_ name: String) -> String { ConverterTests.fixtures + "/" + name }

    /// A writable copy of a fixture directory, for tests that damage it.
    func copy(_ name: String) throws -> String {
        let destination = scratch + "/" + name
        try FileManager.default.copyItem(atPath: fixture(name), toPath: destination)
        return destination
    }

    func convert(_ directory: String, _ recipe: WeightsRecipe = .f32, heads: Int? = nil, compress: Bool = false,
                 name: String = "out.prm") throws -> ModelFile {
        var options = ConversionOptions(weights: recipe)
        options.numHeads = heads
        options.compressTensors = compress
        let output = scratch + "/" + name
        _ = try Converter.convert(directory: directory, output: output, options: options)
        return try ModelFile(path: output)
    }

    struct Expected {
        var stats: [String: (sum: Double, first4: [Float], last4: [Float])]
        var shapes: [String: [Int]]
    }

    func expected(variant: String) throws -> Expected {
        let root = try FixtureObject(contentsOf: URL(fileURLWithPath: fixture("tiny-expected.json")))
        var shapes: [String: [Int]] = [:]
        for tensor in try root.objects("tensors") { shapes[try tensor.string("name")] = try tensor.ints("shape") }
        let stats = try root.object("variants").object(variant).object("stats")
        var result: [String: (Double, [Float], [Float])] = [:]
        for name in stats.values.keys {
            let entry = try stats.object(name)
            result[name] = (try entry.double("sum"), try entry.floats("first4"), try entry.floats("last4"))
        }
        return Expected(stats: result, shapes: shapes)
    }

    // MARK: Every layout and source dtype, exact in f32

    func testEveryFixtureConvertsExactlyToF32() throws {
        let cases: [(directory: String, variant: String, heads: Int?)] = [
            ("tiny-pairrm-hf", "f32", nil), ("tiny-pairrm", "f32", 4), ("tiny-bin", "f32", nil),
            ("tiny-f16", "f16", nil), ("tiny-bf16", "bf16", nil),
        ]
        for item in cases {
            let file = try convert(fixture(item.directory), heads: item.heads, name: "\(item.directory).prm")
            let reference = try expected(variant: item.variant)
            XCTAssertEqual(file.tensors.count, 42 + 4, item.directory)  // 394 at 24 layers: 3 + 16·L + 7, + 2·L derived
            let published = file.tensors.filter { !$0.name.hasPrefix("pairrm.layer.") }
            XCTAssertEqual(Set(published.map(\.name)), Set(reference.shapes.keys), item.directory)
            for tensor in published {
                XCTAssertEqual(tensor.shape, reference.shapes[tensor.name], tensor.name)
                XCTAssertEqual(tensor.dtype, .f32)
                let values = Quantize.dequantize(file.data(of: tensor), dtype: .f32, shape: tensor.shape)
                let stats = try XCTUnwrap(reference.stats[tensor.name], tensor.name)
                XCTAssertEqual(Array(values.prefix(4)), stats.first4, "\(item.directory) \(tensor.name) first values")
                XCTAssertEqual(Array(values.suffix(4)), stats.last4, "\(item.directory) \(tensor.name) last values")
                let sum = values.reduce(0.0) { $0 + Double($1) }
                XCTAssertEqual(sum, stats.sum, accuracy: 1e-9 * max(1, abs(stats.sum)), "\(item.directory) \(tensor.name) sum")
            }
            XCTAssertEqual(file.metadata.string("source.layout"), item.directory == "tiny-pairrm" ? "pairrm" : "pairrm-hf")
            XCTAssertEqual(file.metadata.int("model.num_heads"), 4)
            XCTAssertEqual(file.metadata.int("tokens.source_prefix_id"), 1001)
            XCTAssertEqual(file.metadata.int("tokens.mask_id"), 1000)
            XCTAssertEqual(file.metadata.int("pairrm.max_length"), 2048)
            XCTAssertEqual(file.verifyAll(), [])
        }
    }

    func testPublishedTensorListHas394TensorsAtFullSize() {
        let full = Architecture(hiddenSize: 1024, numLayers: 24, numHeads: 16, intermediateSize: 4096, vocabSize: 128005,
                                relativeRows: 512, nTasks: 1)
        let tensors = full.expectedTensors
        XCTAssertEqual(tensors.count, 394)
        XCTAssertEqual(tensors.reduce(0) { $0 + $1.shape.reduce(1, *) }, 436_014_081)
    }

    // MARK: Quantized recipes

    func testQuantizedRecipesFollowTheRecipeAndStayClose() throws {
        let reference = try convert(fixture("tiny-pairrm-hf"), .f32, name: "ref.prm")
        for (recipe, linear, bound) in [(WeightsRecipe.q8, DType.q8P16B32, Float(1) / 127), (.q8a8, .q8P16B32, Float(1) / 127),
                                        (.q4, .q4P16B32, Float(1) / 8), (.f16, .f16, Float(1e-3))] {
            let file = try convert(fixture("tiny-pairrm-hf"), recipe, compress: recipe == .q4, name: "\(recipe).prm")
            XCTAssertEqual(file.metadata.strings("quantization.recipe"), recipe.rules)
            XCTAssertEqual(file.metadata.strings(ActivationPlan.metadataKey), recipe.activationPlan?.rules)
            XCTAssertEqual(file.tensorsAreZeroCopy, recipe != .q4)
            for tensor in file.tensors {
                let original = reference.tensor(named: tensor.name)!
                let expectedType: DType = switch original.name {
                case let name where name.hasPrefix("pairrm.layer."): recipe == .f32 ? .f32 : .f16
                case let name where name.contains("word_embeddings"): recipe == .q4 ? .q8Rows : .f16
                case let name where name.hasSuffix("_proj.weight") || name.hasSuffix("dense.weight"):
                    name.hasPrefix("head_layer") ? .f32 : linear
                default: .f32
                }
                XCTAssertEqual(tensor.dtype, expectedType, tensor.name)
                let exact = Quantize.dequantize(reference.data(of: original), dtype: .f32, shape: original.shape)
                let decoded = Quantize.dequantize(file.data(of: tensor), dtype: tensor.dtype, shape: tensor.shape)
                let largest = exact.map(abs).max() ?? 0
                for (a, b) in zip(exact, decoded) { XCTAssertLessThanOrEqual(abs(a - b), largest * bound + 1e-7, tensor.name) }
            }
        }
    }

    /// --activations records another plan for the same tensors (q8/q8a8), and only there.
    func testActivationPlanOverrideChangesOnlyTheMetadata() throws {
        let q8 = try convert(fixture("tiny-pairrm-hf"), .q8, name: "plain-q8.prm")
        var options = ConversionOptions(weights: .q8a8)
        let mixed = try ActivationPlan(rules: ["attention_input=INT8", "ffn_input=INT8"])
        options.activations = mixed
        let output = scratch + "/mixed.prm"
        _ = try Converter.convert(directory: fixture("tiny-pairrm-hf"), output: output, options: options)
        let file = try ModelFile(path: output)
        XCTAssertEqual(file.metadata.strings(ActivationPlan.metadataKey), mixed.rules)
        XCTAssertEqual(mixed.width(of: .ffnOutput), .int16)
        for tensor in file.tensors {
            let original = try XCTUnwrap(q8.tensor(named: tensor.name))
            XCTAssertEqual(tensor.dtype, original.dtype, tensor.name)
            XCTAssertTrue(Array(file.data(of: tensor)) == Array(q8.data(of: original)), tensor.name)
        }
        options = ConversionOptions(weights: .f16)
        options.activations = mixed
        _ = try Converter.convert(directory: fixture("tiny-pairrm-hf"), output: scratch + "/f16.prm", options: options)
        XCTAssertNil(try ModelFile(path: scratch + "/f16.prm").metadata[ActivationPlan.metadataKey], "a float recipe records no plan")
    }

    func testConversionIsByteReproducibleAndRecordsProvenance() throws {
        _ = try convert(fixture("tiny-pairrm-hf"), .q8, name: "a.prm")
        let second = try convert(fixture("tiny-pairrm-hf"), .q8, name: "b.prm")
        XCTAssertEqual(FileManager.default.contents(atPath: scratch + "/a.prm"), FileManager.default.contents(atPath: scratch + "/b.prm"))
        let files = try XCTUnwrap(second.metadata.strings("source.files"))
        var hash = SHA256Stream()
        let config = try Data(contentsOf: URL(fileURLWithPath: fixture("tiny-pairrm-hf/config.json")))
        config.withUnsafeBytes { hash.update($0) }
        XCTAssertTrue(files.contains("config.json \(config.count) sha256:\(hash.finalizeHex())"), "\(files)")
        XCTAssertTrue(files.contains { $0.hasPrefix("model.safetensors ") })
        XCTAssertTrue(files.contains { $0.hasPrefix("spm.model ") })
    }

    // MARK: Bad input

    func assertFails(_ kind: ConversionError.Kind, _ directory: String, heads: Int? = nil, field: String? = nil,
                     line: UInt = #line) {
        do {
            _ = try convert(directory, heads: heads, name: "bad.prm")
            XCTFail("expected \(kind)", line: line)
        } catch let error as ConversionError {
            XCTAssertEqual(error.kind, kind, "\(error)", line: line)
            if let field { XCTAssertTrue(error.field.contains(field), "\(error)", line: line) }
            XCTAssertFalse(error.fix.isEmpty, line: line)
        } catch {
            XCTFail("expected ConversionError, got \(error)", line: line)
        }
        // Nothing is left behind: no output, no temporary file.
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
        XCTAssertFalse(leftovers.contains { $0.hasPrefix("bad.prm") }, "\(leftovers)", line: line)
    }

    func testMissingFiles() throws {
        for name in ["config.json", "spm.model", "added_tokens.json", "model.safetensors"] {
            let directory = try copy("tiny-pairrm-hf")
            try FileManager.default.removeItem(atPath: directory + "/" + name)
            assertFails(.missingFile, directory, field: "(file)")
            try FileManager.default.removeItem(atPath: directory)
        }
        assertFails(.missingFile, scratch + "/does-not-exist")
    }

    func testBothWeightFilesAreAmbiguous() throws {
        let directory = try copy("tiny-pairrm-hf")
        try FileManager.default.copyItem(atPath: fixture("tiny-bin/pytorch_model.bin"), toPath: directory + "/pytorch_model.bin")
        assertFails(.ambiguousFiles, directory)
        var options = ConversionOptions(weights: .f32)
        options.weightsFile = "pytorch_model.bin"
        XCTAssertNoThrow(try Converter.convert(directory: directory, output: scratch + "/chosen.prm", options: options))
    }

    func testConfigThatDisagreesWithTheTensors() throws {
        for (key, value) in [("hidden_size", "48"), ("num_hidden_layers", "3"), ("intermediate_size", "128"), ("vocab_size", "2000")] {
            let directory = try copy("tiny-pairrm-hf")
            try editJSON(directory + "/config.json") { $0[key] = Int(value)! }
            assertFails(.configMismatch, directory, field: key)
            try FileManager.default.removeItem(atPath: directory)
        }
    }

    func testUnsupportedConfigAndUnknownHeads() throws {
        let directory = try copy("tiny-pairrm-hf")
        try editJSON(directory + "/config.json") { $0["hidden_act"] = "relu" }
        assertFails(.unsupportedConfig, directory, field: "hidden_act")
        // The RankerConfig form names deberta-v3-large (hidden 1024): a 32-wide model needs --heads.
        assertFails(.configMismatch, fixture("tiny-pairrm"), field: "model_name")
    }

    func testWrongShapeMissingAndUnexpectedTensors() throws {
        try rewriteWeights(.wrongShape, field: "attention.self.key_proj.weight") { tensors in
            tensors["pretrained_model.encoder.layer.1.attention.self.key_proj.weight"]!.shape = [16, 64]
        }
        try rewriteWeights(.missingTensor, field: "output.LayerNorm.bias") { tensors in
            tensors["pretrained_model.encoder.layer.1.output.LayerNorm.bias"] = nil
        }
        try rewriteWeights(.unexpectedTensor, field: "pretrained_model.embeddings.position_embeddings.weight") { tensors in
            tensors["pretrained_model.embeddings.position_embeddings.weight"] = (shape: [4], values: [1, 2, 3, 4])
        }
        try rewriteWeights(.nonFiniteWeight, field: "head_layer.4.weight") { tensors in
            tensors["head_layer.4.weight"]!.values[7] = .nan
        }
        try rewriteWeights(.nonFiniteWeight, field: "rel_embeddings") { tensors in
            tensors["pretrained_model.encoder.rel_embeddings.weight"]!.values[100] = -.infinity
        }
    }

    func testSpmThatIsNotUnigramIsRefused() throws {
        let directory = try copy("tiny-pairrm-hf")
        var spm = try SentencePieceModel.parse(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/spm.model"))), file: "spm")
        XCTAssertEqual(spm.modelType, 1)
        // Re-encode just the trainer_spec with model_type = BPE (2) appended: the last value wins in protobuf.
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/spm.model")))
        bytes += [0x12, 0x02, 0x18, 0x02]  // field 2 (trainer_spec), length 2: field 3 varint 2
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/spm.model"))
        assertFails(.notUnigram, directory)
        spm.modelType = 2
    }

    // MARK: Helpers

    func editJSON(_ path: String, _ edit: (inout [String: Any]) -> Void) throws {
        var object = try FixtureObject(contentsOf: URL(fileURLWithPath: path)).values
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    /// Reads the tiny f32 weights, lets `edit` change them, writes a new model.safetensors into a
    /// copy of the fixture and expects the conversion to fail with `kind`.
    func rewriteWeights(_ kind: ConversionError.Kind, field: String,
                        _ edit: (inout [String: (shape: [Int], values: [Float])]) -> Void, line: UInt = #line) throws {
        let directory = try copy("tiny-pairrm-hf")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try SafetensorsFile(path: directory + "/model.safetensors")
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for tensor in source.tensors {
            var values = [Float](repeating: 0, count: tensor.elementCount)
            try values.withUnsafeMutableBufferPointer { try source.readFloat32(tensor, into: $0) }
            tensors[tensor.name] = (tensor.shape, values)
        }
        edit(&tensors)
        var header: [String: Any] = [:]
        var data: [UInt8] = []
        for name in tensors.keys.sorted() {
            let (shape, values) = tensors[name]!
            let count = shape.reduce(1, *)
            let begin = data.count
            for value in values.prefix(count) + [Float](repeating: 0, count: max(0, count - values.count)) {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { data += $0 }
            }
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [begin, data.count]]
        }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: .sortedKeys))
        while json.count % 8 != 0 { json.append(0x20) }
        var file = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        file += json + data
        try Data(file).write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
        assertFails(kind, directory, field: field, line: line)
    }
}
