// swift-tools-version:6.0
import PackageDescription

// Docket's benchmarks, in a package of their own so that the library never depends on GRDB.
// Run: swift run -c release --package-path Benchmarks docket-bench

// SwiftPM names a path dependency after its folder (the checkout's name, which differs between
// clones and worktrees), so the root package's identity is computed rather than spelled out.
let docketIdentity = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "docket").lowercased()
let package = Package(
    name: "DocketBenchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "docket-bench", targets: ["DocketBench"])
    ],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
    ],
    targets: [
        // Docket's CSQLite is a target, not a product: the raw contender links libsqlite3 itself.
        .systemLibrary(
            name: "CSQLiteBench",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .executableTarget(
            name: "DocketBench",
            dependencies: [
                "CSQLiteBench",
                .product(name: "Docket", package: docketIdentity),
                .product(name: "DocketMacros", package: docketIdentity),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
