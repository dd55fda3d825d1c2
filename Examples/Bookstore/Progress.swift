import Foundation

/// Standard output, unbuffered, so progress and report lines appear in order and at once.
enum Console {
    static let isTerminal = isatty(STDOUT_FILENO) == 1

    static func line(_ text: String) { write(text + "\n") }

    static func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }
}

/// Shows progress until the task running it is cancelled: one line redrawn in place on a
/// terminal, a plain line every second otherwise (a log, CI, a test reading the output).
func showProgress(of ledger: Ledger, total: Int, since start: ContinuousClock.Instant) async {
    func status() -> String {
        let (finished, committed, conflicts) = ledger.counts
        let rate = Double(committed) / max((ContinuousClock.now - start).seconds, 1e-9)
        return "orders: \(finished)/\(total) done, \(committed) committed, \(conflicts) conflicts retried, "
            + "\(Int(rate)) commits/s"
    }
    let interval: Duration = Console.isTerminal ? .milliseconds(100) : .seconds(1)
    while true {
        try? await Task.sleep(for: interval)  // returns at once when cancelled
        if Task.isCancelled { break }
        if Console.isTerminal { Console.write(redraw(status())) } else { Console.line(status()) }
    }
    // The final count, ending the line redrawn in place.
    Console.line(Console.isTerminal ? redraw(status()) : status())
}

/// Back to the start of the line, the text, then erase what is left of a longer earlier line.
private func redraw(_ text: String) -> String {
    "\r" + text + "\u{1B}[K"
}
