// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for Docket, kept out of the root package: they only build with
// `-sanitize=fuzzer`. Build and run them with `Fuzz/run` (see Fuzz/README.md).

// SwiftPM names a path dependency after its folder, which differs between clones and worktrees.
let docketIdentity = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "docket").lowercased()

let package = Package(
    name: "DocketFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "FuzzMigrationParser",
            dependencies: [
                .product(name: "Docket", package: docketIdentity),
                .product(name: "DocketMigrations", package: docketIdentity),
            ]
        ),
        .executableTarget(
            name: "FuzzModelDecoding",
            dependencies: [.product(name: "Docket", package: docketIdentity)]
        ),
    ],
    swiftLanguageModes: [.v6]
)
