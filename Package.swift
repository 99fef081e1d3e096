// swift-tools-version:6.0
// Tern — a mail transfer agent. See ../shared/DESIGN.md for the module map:
// arrows go down the target list, never up.
import PackageDescription

let package = Package(
    name: "Tern",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tern", targets: ["tern"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // System library: crypt(3) from libxcrypt (yescrypt, SHA512-CRYPT, bcrypt).
        .systemLibrary(name: "CCrypt", path: "Sources/CCrypt"),
        // System library: libldns builds and parses DNS packets (Debian: libldns-dev).
        .systemLibrary(name: "CLDNS", path: "Sources/CLDNS", pkgConfig: "ldns"),
        // System library: libspf2 evaluates SPF policies (Debian: libspf2-dev; no .pc file).
        .systemLibrary(name: "CSPF2", path: "Sources/CSPF2"),
        // System library: libopendkim verifies DKIM signatures (Debian: libopendkim-dev).
        .systemLibrary(name: "COpenDKIM", path: "Sources/COpenDKIM", pkgConfig: "opendkim"),
        // System library: one thread's credentials — setfsuid/setfsgid (Maildir delivery as the mailbox's
        // owner) and switching a thread glibc's setuid(2) leaves out (the parked main thread).
        .systemLibrary(name: "CThreadCredentials", path: "Sources/CThreadCredentials"),

        .target(
            name: "TernSMTP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "TernDNS",
            dependencies: [
                "CLDNS",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "TernMailAuth",
            dependencies: [
                "TernDNS", "TernSMTP", "CSPF2", "COpenDKIM",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "TernAccounts",
            dependencies: ["TernSMTP", "CCrypt"]
        ),
        .target(
            name: "TernSpool",
            dependencies: ["TernSMTP"]
        ),
        .target(
            name: "TernDelivery",
            dependencies: [
                "TernSMTP", "TernSpool", "TernAccounts", "TernDNS", "CThreadCredentials",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TernInbound",
            dependencies: [
                "TernSMTP", "TernAccounts", "TernSpool",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TernServer",
            dependencies: [
                "TernSMTP", "TernAccounts", "TernSpool", "TernDNS", "TernMailAuth", "TernDelivery", "TernInbound",
                "CThreadCredentials",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "tern",
            dependencies: [
                "TernServer", "TernAccounts", "TernSpool", "TernSMTP", "TernMailAuth",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Fixtures that several test targets share (a real nsd on loopback);
        // a library only test targets depend on.
        .target(
            name: "TernTestSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/Support"
        ),

        .testTarget(name: "TernSMTPTests", dependencies: ["TernSMTP"]),
        .testTarget(name: "TernDNSTests", dependencies: ["TernDNS", "TernTestSupport"]),
        .testTarget(name: "TernAccountsTests", dependencies: ["TernAccounts"]),
        .testTarget(
            name: "TernMailAuthTests",
            dependencies: [
                "TernMailAuth", "TernDNS", "TernTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "TernSpoolTests", dependencies: ["TernSpool"]),
        .testTarget(name: "TernDeliveryTests", dependencies: ["TernDelivery", "TernDNS"], exclude: ["Golden"]),
        .testTarget(name: "TernServerTests", dependencies: ["TernServer"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "TernServer", "TernInbound", "TernSMTP", "TernAccounts", "TernSpool", "TernDNS", "TernMailAuth", "TernTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/Integration",
            exclude: ["Transcripts"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
