// swift-tools-version:6.0
// PairRM-Swift: a quantized edge runtime for the PairRM reward model.
//
// Layers (each imports only those below it):
//   PairRMKernels (C), CZstd (system)      -- bytes and arithmetic, no model knowledge
//   PairRMFormat                            -- the .prm container: reader, writer, spec types
//   PairRMSchema                            -- PairRM's tensor names and metadata keys (constants only), read by
//                                              the tokenizer, runtime, converter and API; the format never sees them
//   PairRMTokenizer                         -- DeBERTa-v3 unigram tokenizer over the container's vocabulary
//   PairRMRuntime                           -- the encoder + PairRM head on the kernels (never imports the tokenizer)
//   PairRM                                  -- the Swift API (compare, rank, best-of-n...) on tokenizer + runtime
//   PairRMProtocol                          -- the JSON request/response lines the CLI (and a server) speak, on the API
//   PairRMConverter                         -- published hub checkpoint -> .prm (uses the tokenizer's trie builder)
//   PairRMStore                             -- --model resolution: paths, the hub cache, converted-model cache (no networking)
//   PairRMHub                               -- the hub client (AsyncHTTPClient); only the CLI builds it
//   PairRMServer                            -- the HTTP scoring server (Hummingbird) behind `pairrm serve`
//   PairRMCABIHeader + PairRMCABI           -- the C ABI: pairrm.h, and its Swift implementation (libpairrm)
//   PairRMCLI (the `pairrm` command)        -- the command line, on top of everything above
//   pairrm-bench (Tools/Bench)              -- latency / fidelity / reference checks
import PackageDescription

let package = Package(
    name: "PairRM",
    products: [
        .executable(name: "pairrm", targets: ["PairRMCLI"]),
        .library(name: "PairRMFormat", targets: ["PairRMFormat"]),
        .library(name: "PairRMConverter", targets: ["PairRMConverter"]),
        .library(name: "PairRMTokenizer", targets: ["PairRMTokenizer"]),
        .library(name: "PairRMRuntime", targets: ["PairRMRuntime"]),
        .library(name: "PairRM", targets: ["PairRM"]),
        .library(name: "PairRMProtocol", targets: ["PairRMProtocol"]),
        .library(name: "PairRMStore", targets: ["PairRMStore"]),
        .library(name: "PairRMHub", targets: ["PairRMHub"]),
        // The C ABI (Sources/PairRMCABIHeader/include/pairrm.h). Built as libPairRMCABI.so (the name
        // "pairrm" is taken by the CLI product); Tools/install.sh installs it as libpairrm.so.
        .library(name: "PairRMCABI", type: .dynamic, targets: ["PairRMCABI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Networking for PairRMHub (and its loopback test server) only; the library products never build it.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
        // The HTTP scoring server (PairRMServer, `pairrm serve`) only.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            path: "Sources/CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .target(
            name: "PairRMKernels",
            path: "Sources/PairRMKernels"
        ),
        .target(
            name: "PairRMFormat",
            dependencies: ["PairRMKernels", "CZstd"],
            path: "Sources/PairRMFormat"
        ),
        .target(
            name: "PairRMSchema",
            path: "Sources/PairRMSchema"
        ),
        .target(
            name: "PairRMTokenizer",
            dependencies: ["PairRMFormat", "PairRMSchema"],
            path: "Sources/PairRMTokenizer"
        ),
        .target(
            name: "PairRMRuntime",
            dependencies: ["PairRMFormat", "PairRMKernels", "PairRMSchema"],
            path: "Sources/PairRMRuntime"
        ),
        .target(
            name: "PairRM",
            dependencies: ["PairRMTokenizer", "PairRMRuntime", "PairRMFormat", "PairRMSchema"],
            path: "Sources/PairRM"
        ),
        .target(
            name: "PairRMProtocol",
            dependencies: ["PairRM", "PairRMTokenizer"],
            path: "Sources/PairRMProtocol"
        ),
        .target(
            name: "PairRMServer",
            dependencies: [
                "PairRM",
                "PairRMProtocol",
                "PairRMFormat",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/PairRMServer"
        ),
        .target(
            name: "PairRMStore",
            dependencies: ["PairRMConverter", "PairRMFormat"],
            path: "Sources/PairRMStore"
        ),
        .target(
            name: "PairRMHub",
            dependencies: [
                "PairRMStore",
                "PairRMFormat",
                "PairRM",
                "PairRMConverter",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/PairRMHub"
        ),
        .target(
            name: "PairRMCABIHeader",
            path: "Sources/PairRMCABIHeader"
        ),
        .target(
            name: "PairRMCABI",
            dependencies: ["PairRMCABIHeader", "PairRM", "PairRMFormat", "PairRMRuntime", "PairRMTokenizer", "PairRMStore", "PairRMConverter"],
            path: "Sources/PairRMCABI"
        ),
        .target(
            name: "PairRMConverter",
            dependencies: ["PairRMFormat", "PairRMKernels", "PairRMTokenizer", "PairRMSchema"],
            path: "Sources/PairRMConverter"
        ),
        .executableTarget(
            name: "PairRMCLI",
            dependencies: [
                "PairRMFormat",
                "PairRMSchema",
                "PairRMConverter",
                "PairRM",
                "PairRMTokenizer",
                "PairRMRuntime",
                "PairRMProtocol",
                "PairRMStore",
                "PairRMHub",
                "PairRMServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/PairRMCLI"
        ),
        .executableTarget(
            name: "pairrm-bench",
            dependencies: [
                "PairRMRuntime",
                "PairRMFormat",
                "PairRMKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/Bench"
        ),
        // Fixture paths, converted tiny models and typed fixture JSON, shared by the test targets.
        .target(
            name: "PairRMTestSupport",
            dependencies: ["PairRMConverter"],
            path: "Tests/PairRMTestSupport"
        ),
        .testTarget(
            name: "PairRMFormatTests",
            dependencies: ["PairRMFormat"],
            path: "Tests/PairRMFormatTests"
        ),
        // Tools/kernels/kernel_selftest.c as a library, so XCTest runs the same checks as the scripts.
        .target(
            name: "PairRMKernelSelfTest",
            dependencies: ["PairRMKernels"],
            path: "Tests/PairRMKernelSelfTest"
        ),
        .testTarget(
            name: "PairRMKernelsTests",
            dependencies: ["PairRMKernels", "PairRMKernelSelfTest"],
            path: "Tests/PairRMKernelsTests"
        ),
        .testTarget(
            name: "PairRMRuntimeTests",
            dependencies: ["PairRMTestSupport", "PairRMRuntime", "PairRMFormat", "PairRMConverter", "PairRMKernels"],
            path: "Tests/PairRMRuntimeTests"
        ),
        .testTarget(
            name: "PairRMTokenizerTests",
            dependencies: ["PairRMTestSupport", "PairRMTokenizer", "PairRMFormat", "PairRMConverter"],
            path: "Tests/PairRMTokenizerTests"
        ),
        .testTarget(
            name: "PairRMTests",
            dependencies: ["PairRMTestSupport", "PairRM", "PairRMProtocol", "PairRMConverter", "PairRMFormat", "PairRMRuntime", "PairRMTokenizer", "PairRMSchema"],
            path: "Tests/PairRMTests"
        ),
        .testTarget(
            name: "PairRMHubTests",
            dependencies: ["PairRMTestSupport", 
                "PairRMHub",
                "PairRMStore",
                "PairRMConverter",
                "PairRMFormat",
                "PairRM",
                "PairRMCLI",   // the `pairrm` binary, for the test that runs two `pairrm download` processes at once
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/PairRMHubTests"
        ),
        .testTarget(
            name: "PairRMCLITests",
            dependencies: ["PairRMTestSupport", "PairRMConverter", "PairRMFormat", "PairRMSchema", "PairRMCLI"],
            path: "Tests/PairRMCLITests"
        ),
        .testTarget(
            name: "PairRMServerTests",
            dependencies: [
                "PairRMTestSupport", "PairRMServer", "PairRM", "PairRMProtocol", "PairRMConverter",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/PairRMServerTests"
        ),
        .testTarget(
            name: "PairRMConverterTests",
            dependencies: ["PairRMTestSupport", "PairRMConverter", "PairRMFormat", "PairRMSchema"],
            path: "Tests/PairRMConverterTests"
        ),
    ]
)
