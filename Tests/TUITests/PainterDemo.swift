import Foundation
import Testing
import Training
@testable import TUI

/// Paints the sample dashboard on a real terminal, presses a few keys, and restores the terminal.
/// Runs only with CNNTUI_PAINTER_DEMO=1 (inside tmux, for example); the ordinary test run skips it.
@Suite struct PainterDemo {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CNNTUI_PAINTER_DEMO"] == "1"))
    func paintsOnARealTerminal() throws {
        let painter = try TerminalPainter.start()
        let app = App(capabilities: painter.capabilities, width: painter.width, height: painter.height, painter: painter)
        for e in Sample.events { app.handle(event: e) }
        let deadline = Date().addingTimeInterval(Double(ProcessInfo.processInfo.environment["CNNTUI_DEMO_SECONDS"] ?? "3") ?? 3)
        while !app.shouldQuit && Date() < deadline {
            app.draw()
            if let key = painter.readKey(timeoutMilliseconds: 100) { app.handle(key: key) }
        }
        painter.stop()
        print("painter demo done: \(painter.capabilities)")
    }
}
