import ArgumentParser
import PairRMConverter
import PairRMFormat
import PairRMStore

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a PairRM checkpoint (a folder, or a hub id fetched first) into a .prm file.",
        discussion: """
        The checkpoint is a local copy of llm-blender/PairRM or llm-blender/PairRM-hf, or
        a hub id (org/name[@revision]) found in the Hugging Face cache or fetched into it:
        config.json (RankerConfig or DebertaV2Config), spm.model, added_tokens.json,
        special_tokens_map.json, tokenizer_config.json and model.safetensors
        (F32/F16/BF16) or pytorch_model.bin. No Python is needed. Tensors are
        converted one at a time; the output is written to <output>.tmp.<pid> and
        renamed only when complete, so an interrupted run leaves nothing.

        Weight recipes (recorded in the file as quantization.recipe):
          f32  everything f32 (reference accuracy)
          f16  matrices f16; LayerNorms, biases, relative table and head f32
          q8   embeddings F16, encoder matrices Q8_P16B32 (int8, one scale
               per 32 inputs, int16 activations); the rest f32
          q8a8 q8's file with int8 activations recorded (W8A8): about twice
               q8's GEMM speed on AVX-512 VNNI and ARM dotprod, the same
               on AVX2-only CPUs, and less faithful than q8 on fragile
               checkpoints (README, "Fidelity")
          q4   embeddings Q8_ROWS, encoder matrices Q4_P16B32 (int4, 32-column
               blocks); the rest f32. Smallest memory (~320 MiB at 512 tokens,
               q8 ~550) but it flips many more verdicts than q8 on generated
               checkpoints (README, "Fidelity of q8 and q4"): prefer q8
               unless memory decides.

        Examples:
          pairrm convert ./PairRM -o pairrm-q8.prm
          pairrm convert llm-blender/PairRM -o pairrm-q8.prm
          pairrm convert ./PairRM-hf -o pairrm-f32.prm --weights f32
          pairrm convert ./PairRM -o pairrm-q4.prm.zst --weights q4 --compress zstd:19
          pairrm convert ./PairRM -o pairrm-mixed.prm --weights q8a8 \\
              --activations ffn_input=INT8,attention_input=INT8,attention_output=INT8
        """
    )

    @Argument(help: "Checkpoint folder (llm-blender/PairRM or llm-blender/PairRM-hf layout) or hub id.")
    var directory: String

    @Option(name: .shortAndLong, help: "Output .prm file.")
    var output: String

    @Option(help: "Weight recipe: f32, f16, q8, q8a8 or q4.")
    var weights: String = "q8"

    @Option(help: ArgumentHelp("q8/q8a8 only: the activation width of each matrix kind, as comma-separated <matrix>=<INT8|INT16> rules (matrix: attention_input, attention_output, ffn_input, ffn_output; unnamed: INT16). Overrides the recipe's plan; the weights are the same.", valueName: "rules"))
    var activations: String?

    @Option(help: "Compress the tensor section: zstd or zstd:LEVEL (1-19). The file gets smaller but loads by decompressing instead of memory-mapping.")
    var compress: String?

    @Option(help: "Attention heads, when config.json is a RankerConfig naming a backbone this converter does not know.")
    var heads: Int?

    @Option(name: .customLong("weights-file"), help: "model.safetensors or pytorch_model.bin, when the directory holds both.")
    var weightsFile: String?

    @Flag(name: .shortAndLong, help: "No progress bar or summary.")
    var quiet = false

    func validate() throws {
        guard WeightsRecipe(rawValue: weights) != nil else {
            throw ValidationError("--weights must be one of f32, f16, q8, q8a8, q4 (got \"\(weights)\")")
        }
        if let compress { _ = try parseCompression(compress) }
        if activations != nil {
            guard WeightsRecipe(rawValue: weights)?.activationPlan != nil else {
                throw ValidationError("--activations applies to --weights q8 or q8a8 (got --weights \(weights))")
            }
            _ = try activationPlan()
        }
    }

    func activationPlan() throws -> ActivationPlan? {
        guard let activations else { return nil }
        do {
            return try ActivationPlan(rules: activations.split(separator: ",").map(String.init))
        } catch {
            throw ValidationError("--activations: \(error.description)")
        }
    }

    func parseCompression(_ text: String) throws -> Int32 {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.first == "zstd" else { throw ValidationError("--compress must be zstd or zstd:LEVEL (got \"\(text)\")") }
        guard parts.count == 2 else { return Zstd.defaultLevel }
        guard let level = Int32(parts[1]), (1...Zstd.maxLevel).contains(level) else {
            throw ValidationError("zstd level must be 1…\(Zstd.maxLevel) (got \"\(parts[1])\")")
        }
        return level
    }

    func run() throws {
        var options = ConversionOptions(weights: WeightsRecipe(rawValue: weights)!)
        if let compress {
            options.compressTensors = true
            options.zstdLevel = try parseCompression(compress)
        }
        options.numHeads = heads
        options.weightsFile = weightsFile
        options.activations = try activationPlan()
        let bar = ProgressBar(label: "converting", unit: "MB", unitScale: 1e6)
        let quiet = self.quiet
        do {
            let directory = try checkpointFolder()
            let report = try Converter.convert(directory: directory, output: output, options: options) { progress in
                if !quiet {
                    bar.update(done: progress.sourceBytesDone, total: progress.sourceBytesTotal, detail: progress.tensorName,
                               force: progress.tensorIndex == progress.tensorCount)
                }
            }
            bar.finish()
            if !quiet {
                let a = report.architecture
                print("wrote \(report.output): \(report.tensorCount) tensors, \(formatBytes(report.outputBytes)) "
                      + "(from \(formatBytes(report.sourceWeightBytes)) of \(report.layout.rawValue) weights) in "
                      + "\(String(format1: report.seconds)) s, peak RSS \(formatBytes(peakResidentBytes()))")
                print("model: hidden \(a.hiddenSize), \(a.numLayers) layers, \(a.numHeads) heads, vocabulary \(a.vocabSize), recipe \(weights)")
            }
        } catch let error as ConversionError {
            bar.finish()
            printError("error: \(error)")
            throw ExitCode(1)
        } catch let error as FormatError {
            bar.finish()
            printError("error: \(error)")
            throw ExitCode(1)
        } catch let error as StoreError {
            bar.finish()
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }

    /// The folder itself, or the hub cache's snapshot of a hub id (fetched when missing).
    func checkpointFolder() throws -> String {
        let environment = StoreEnvironment()
        let locator = ModelLocator(environment: environment)
        switch try locator.locate(directory) {
        case .checkpoint(let folder, _): return folder
        case .modelFile(let path):
            throw ValidationError("\(path) is a file; convert takes a checkpoint folder or a hub id (a .prm file is already converted)")
        case .hubNotCached(let id):
            if environment.offline { throw locator.notCachedError(id, reason: "HF_HUB_OFFLINE is set") }
            return try hubFetcher(environment: environment, quiet: quiet)(id).folder
        }
    }
}
