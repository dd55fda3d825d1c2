// swift-tools-version:6.1
import PackageDescription

// DocketPostgres's tests, in a package of their own that enables the root package's `Postgres`
// trait, so that the root package's `swift test` (the newcomer's first command) never builds
// SwiftNIO, swift-nio-ssl's BoringSSL and postgres-nio. `.ci/run` runs them:
// swift test --package-path Tests/Postgres

// SwiftPM names a path dependency after its folder (the checkout's name, which differs between
// clones and worktrees), so the root package's identity is computed rather than spelled out.
let docketIdentity = String(Context.packageDirectory.split(separator: "/").dropLast(2).last ?? "docket").lowercased()
let package = Package(
    name: "DocketPostgresTests",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../..", traits: ["Postgres"]),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .testTarget(
            name: "DocketPostgresTests",
            dependencies: [
                .product(name: "Docket", package: docketIdentity),
                .product(name: "DocketPostgres", package: docketIdentity),
                .product(name: "DocketMigrations", package: docketIdentity),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "DocketPostgresTests"
        )
    ],
    swiftLanguageModes: [.v6]
)
