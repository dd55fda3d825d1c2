// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Docket",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Docket", targets: ["Docket"]),
        .executable(name: "docket-sample", targets: ["DocketSample"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2")
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "Docket",
            dependencies: [
                "CSQLite",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "DocketSample",
            dependencies: ["Docket"],
            path: "Examples/Sample"
        ),
        .testTarget(
            name: "DocketTests",
            dependencies: [
                "Docket",
                // Tests capture the SQL Docket logs through a swift-log handler.
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "UnitOfWorkTests",
            dependencies: ["Docket"]
        ),
        .executableTarget(
            name: "DocketCrashWorker",
            dependencies: ["Docket"],
            path: "Tests/Support/CrashWorker"
        ),
        .target(
            name: "CFaultVFS",
            dependencies: ["CSQLite"],
            path: "Tests/Support/CFaultVFS"
        ),
        .testTarget(
            name: "ReliabilityTests",
            dependencies: ["Docket", "DocketCrashWorker", "CFaultVFS", "CSQLite"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
