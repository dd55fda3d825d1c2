// swift-tools-version:6.1
import CompilerPluginSupport
import PackageDescription

let package = Package(
    name: "Docket",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Docket", targets: ["Docket"]),
        .library(name: "DocketMigrations", targets: ["DocketMigrations"]),
        .library(name: "DocketMacros", targets: ["DocketMacros"]),
        .library(name: "DocketPostgres", targets: ["DocketPostgres"]),
        .executable(name: "docket-sample", targets: ["DocketSample"]),
        .executable(name: "docket", targets: ["DocketCLI"]),
        .executable(name: "bookstore", targets: ["Bookstore"]),
    ],
    // DocketPostgres builds on postgres-nio only with the `Postgres` trait, so that this package's
    // own `swift build` and `swift test`, and every application on SQLite alone, never build SwiftNIO,
    // a second BoringSSL and postgres-nio. An application on PostgreSQL enables it:
    // .package(url: "…/docket.git", from: "…", traits: ["Postgres"]).
    traits: [
        .trait(name: "Postgres", description: "DocketPostgres: the PostgreSQL backend, on postgres-nio.")
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swiftlang/swift-syntax.git", from: "603.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
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
        // The migration runner, in its own module so that the core library does not build
        // swift-crypto (BoringSSL on Linux), which it needs only for migration checksums.
        .target(
            name: "DocketMigrations",
            dependencies: [
                "Docket",
                "CSQLite",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // `@Table`: generated column-by-column reading and writing for a model. In its own module,
        // so only applications that use it build swift-syntax.
        .macro(
            name: "DocketMacrosPlugin",
            dependencies: [
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxBuilder", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
                .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
                .product(name: "SwiftDiagnostics", package: "swift-syntax"),
            ]
        ),
        .target(
            name: "DocketMacros",
            dependencies: ["Docket", "DocketMacrosPlugin"]
        ),
        // PostgreSQL, through postgres-nio: its own product, and behind the `Postgres` trait (above).
        .target(
            name: "DocketPostgres",
            dependencies: [
                "Docket",
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["Postgres"])),
                .product(
                    name: "ServiceLifecycle", package: "swift-service-lifecycle", condition: .when(traits: ["Postgres"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "DocketCLI",
            dependencies: [
                "Docket",
                "DocketMigrations",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "DocketSample",
            dependencies: ["Docket"],
            path: "Examples/Sample"
        ),
        .executableTarget(
            name: "Bookstore",
            dependencies: [
                "Docket",
                "DocketMigrations",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/Bookstore"
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
        .testTarget(
            name: "MacroTests",
            dependencies: [
                "Docket",
                "DocketMacros",
                "DocketMacrosPlugin",
                .product(name: "SwiftSyntaxMacrosGenericTestSupport", package: "swift-syntax"),
            ]
        ),
        .executableTarget(
            name: "DocketCrashWorker",
            dependencies: ["Docket", "CFaultVFS"],
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
        // Depends on DocketCLI so that `swift test` builds the `docket` binary the CLI tests run.
        .testTarget(
            name: "MigrationTests",
            dependencies: ["Docket", "DocketMigrations", "DocketCLI"]
        ),
        // DocketPostgres's tests are a package of their own (Tests/Postgres), so that this package's
        // `swift test` never builds postgres-nio and SwiftNIO.
        // Depends on Bookstore so that `swift test` builds the `bookstore` binary the test runs.
        .testTarget(
            name: "ExampleTests",
            dependencies: ["Bookstore", "Docket"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
