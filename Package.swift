// swift-tools-version: 6.2
import PackageDescription

/// Segmentd: a multi-tenant audience segmentation server (gRPC over TLS, PostgreSQL).
///
/// The module graph is ../shared/DESIGN.md's "Modules" table (docs/architecture.md):
/// pure rule logic in `SegmentRules`, the shared vocabulary in `SegmentDomain`, SQL in
/// `SegmentStore`, use cases and workers in `SegmentEngine`, gRPC translation in
/// `SegmentServer`, the composition root in `SegmentdApp`, `main` in the executables.
let package = Package(
    name: "segmentd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "segmentd", targets: ["segmentd"]),
        .executable(name: "segctl", targets: ["segctl"]),
        .executable(name: "segmentd-bench", targets: ["segmentd-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        // Default traits off: SwiftPM 6.3.1 orders their -D flags randomly and rebuilds
        // SwiftProtobuf for nothing (STACK-NOTES gotcha 1).
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0", traits: []),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // HTTP(S) client for scheduled connector pulls: conditional requests, timeouts,
        // redirects and streamed bodies with a size limit, which a hand-written NIO
        // client would have to get right again.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Reads segmentd's configuration (flags > environment > file > default); already built as a
        // dependency of async-http-client, so it costs no build time. No traits: the JSON file is read
        // by segmentd itself, to keep its unknown-key check and messages.
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: []),
    ],
    targets: [
        // Generated protobuf messages and gRPC stubs (ops/generate-proto).
        .target(
            name: "SegmentdAPI",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // Pure rule logic: no database, no gRPC.
        .target(name: "SegmentRules"),
        // The vocabulary every layer shares, pure: identifiers and the resource-name parser,
        // principals and permissions, segment definitions, ingest records and their limits,
        // job kinds and results, DomainError.
        // Crypto: Ed25519 signatures of audit checkpoints (computation only, no I/O).
        .target(
            name: "SegmentDomain",
            dependencies: [
                "SegmentRules",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // PostgreSQL: migrations, tenant-scoped transactions, repositories, audit log.
        .target(
            name: "SegmentStore",
            dependencies: [
                "SegmentDomain",
                // Pure rule logic: the store runs compiled rules and loads facts for the evaluator.
                "SegmentRules",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Background jobs: refresh, export, import, training; scheduler; workers.
        .target(
            name: "SegmentEngine",
            dependencies: [
                "SegmentDomain", "SegmentStore", "SegmentRules",
                // SHA-256 of export files.
                .product(name: "Crypto", package: "swift-crypto"),
                // Scheduled pulls of connector segments.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // The thread pool a pull's host is resolved on (getaddrinfo blocks).
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                // Job queue gauges and failed-attempt counters.
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // gRPC service implementations, authentication, error mapping.
        .target(
            name: "SegmentServer",
            dependencies: [
                "SegmentdAPI", "SegmentDomain", "SegmentEngine", "SegmentRules",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The /metrics endpoint.
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // A small client library shared by segctl and the tests: connection settings,
        // TLS trust, API-key metadata.
        .target(
            name: "SegmentdClient",
            dependencies: [
                "SegmentdAPI",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
        // The composition root: configuration, embedded PostgreSQL, TLS files, one ServiceGroup.
        .target(
            name: "SegmentdApp",
            dependencies: [
                "SegmentServer", "SegmentDomain", "SegmentStore", "SegmentEngine", "SegmentdClient",
                .product(name: "Configuration", package: "swift-configuration"),
                // The development CA and server certificate.
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "segmentd",
            dependencies: [
                "SegmentdApp", "SegmentServer", "SegmentDomain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "segctl",
            dependencies: [
                // SHA-256 to verify downloaded exports.
                .product(name: "Crypto", package: "swift-crypto"),
                "SegmentdClient", "SegmentdAPI",
                // The CSV reader shared with connector imports.
                "SegmentDomain",
                // "Did you mean …?" for names checked before a job starts.
                "SegmentRules",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // Benchmarks against reference engines (not part of swift test): ops/bench.
        .executableTarget(
            name: "segmentd-bench",
            dependencies: [
                // SegmentEngine: the predictive scenario writes the rows and holdout split the trainer used.
                "SegmentdClient", "SegmentdAPI", "SegmentDomain", "SegmentStore", "SegmentEngine",
                // SHA-256 of member sets, compared with the reference engine's.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Shared helpers for tests: a PostgreSQL per test, certificates, a running server.
        .target(
            name: "SegmentdTestSupport",
            dependencies: [
                "SegmentdApp", "SegmentServer", "SegmentDomain", "SegmentStore", "SegmentRules", "SegmentEngine", "SegmentdClient", "SegmentdAPI",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                // A local HTTP server for the scheduled-pull tests.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/SegmentdTestSupport"
        ),
        // Unit tests: no database, no network.
        .testTarget(
            name: "SegmentUnitTests",
            dependencies: [
                "SegmentRules", "SegmentDomain", "SegmentdApp", "SegmentdTestSupport", "SegmentServer", "SegmentStore", "SegmentEngine", "SegmentdAPI", "SegmentdClient",
                .product(name: "Crypto", package: "swift-crypto"),
                // The metrics factory's help lines, read back from a registry.
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Tests/SegmentUnitTests"
        ),
        // Integration tests: real PostgreSQL, real TLS, real gRPC, real processes.
        .testTarget(
            name: "SegmentdIntegrationTests",
            dependencies: [
                "SegmentdTestSupport", "SegmentRules", "SegmentDomain", "SegmentServer", "SegmentStore", "SegmentEngine", "SegmentdClient", "SegmentdAPI",
                // The audit checkpoint signing key's file.
                "SegmentdApp",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/SegmentdIntegrationTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
