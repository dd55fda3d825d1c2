import Foundation

/// The elapsed time of a long migration, on a terminal: after 2 s, a line `⧗ applying <id>: 3 s`
/// rewritten in place every half second, and cleared before the migration's own line. Into a pipe
/// or a file nothing extra is written: a deploy log gets only the lines at each migration's end.
final class Progress: @unchecked Sendable {
    private let lock = NSLock()
    private var current: (id: String, started: Date)?
    private var shown = false
    private let verb: String
    private let timer: DispatchSourceTimer?

    init(verb: String, enabled: Bool = isatty(STDOUT_FILENO) == 1) {
        self.verb = verb
        guard enabled else {
            timer = nil
            return
        }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        self.timer = timer
        timer.schedule(deadline: .now() + .milliseconds(500), repeating: .milliseconds(500))
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
    }

    deinit { timer?.cancel() }

    func start(_ id: String) {
        lock.withLock { current = (id, Date()) }
    }

    /// Clears the progress line, if one shows.
    func finish() {
        lock.withLock {
            if shown { FileHandle.standardOutput.write(Data("\r\u{1B}[2K".utf8)) }
            shown = false
            current = nil
        }
    }

    private func tick() {
        lock.withLock {
            guard let current else { return }
            let elapsed = Date().timeIntervalSince(current.started)
            guard elapsed >= 2 else { return }
            FileHandle.standardOutput.write(Data("\r\u{1B}[2K⧗ \(verb) \(current.id): \(Int(elapsed)) s".utf8))
            shown = true
        }
    }
}
