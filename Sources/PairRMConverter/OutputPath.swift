import Foundation

/// Checks on the output path made before anything is written: the converter writes a new file or
/// atomically replaces an existing regular file (a previous `.prm`), and nothing else.
enum OutputPath {
    /// Refuses an output that is one of the input files (same device and inode, links resolved:
    /// `-o ckpt/model.safetensors` would replace the weights being read) or that exists and is
    /// not a regular file (a directory, a device node such as /dev/full, a FIFO, a socket).
    static func check(_ output: String, inputs: [String]) throws {
        var target = stat()
        guard stat(output, &target) == 0 else {
            if errno == ENOENT { return }  // a new file (or a dangling link, which the rename replaces)
            let reason = String(cString: strerror(errno))
            throw ConversionError(.outputFailed, file: output, field: "output", problem: "cannot be examined: \(reason)",
                                  fix: "choose an output path in a directory you can write to")
        }
        guard (target.st_mode & S_IFMT) == S_IFREG else {
            throw ConversionError(.outputFailed, file: output, field: "output",
                                  problem: "exists and is not a regular file (\(kind(target.st_mode))); the converter only creates files or replaces a previous output",
                                  fix: "choose an output file path, e.g. model.prm")
        }
        for input in inputs {
            var source = stat()
            guard stat(input, &source) == 0, source.st_dev == target.st_dev, source.st_ino == target.st_ino else { continue }
            throw ConversionError(.outputFailed, file: output, field: "output",
                                  problem: "is the input file \(input) (same device and inode); writing there would replace the checkpoint being converted",
                                  fix: "write the .prm elsewhere, e.g. -o model.prm")
        }
    }

    private static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFCHR, S_IFBLK: "a device node"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "mode \(String(mode, radix: 8))"
        }
    }
}

extension Converter.CheckpointSource {
    /// Every file the conversion reads.
    var inputPaths: [String] {
        let names = [files.configName] + files.extraConfigs + tokenizer.filesRead
        return names.map { (directory as NSString).appendingPathComponent($0) } + [files.spm, files.weights]
    }
}
