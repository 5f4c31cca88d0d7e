import Testing
import Training
@testable import TUI

@Suite struct ScreenTests {
    @Test func printDashboard() {
        let app = App(capabilities: .full, width: 80, height: 24)
        for e in Sample.events { app.handle(event: e) }
        print(app.render().text)
        app.resize(width: 120, height: 40)
        print(app.render().text)
        app.handle(key: .character("m"))
        print(app.render().text)
        app.capabilities = .plainASCII
        print(app.render().text)
    }
}
