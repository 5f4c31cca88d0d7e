import Testing
import Training
@testable import TUI

/// The browser's orderings (by loss, by test index) and its view of the least sure correct predictions.
@Suite struct BrowserOrderTests {
    let model = Sample.model

    func press(_ keys: [Key], from state: UIState = UIState()) -> UIState {
        keys.reduce(state) { handleKey($1, state: $0, model: model).0 }
    }

    func indices(_ s: UIState) -> [Int] { s.browser.items(in: model).map(\.testIndex) }

    @Test func mistakesComeMostConfidentFirstByDefault() {
        let s = press([.character("m")])
        #expect(s.browser.order == .loss && s.browser.view == .mistakes)
        let items = s.browser.items(in: model)
        #expect(items.count == 11)
        #expect(items.first?.testIndex == 200)  // p(true) 0.001: the most confident mistake
        #expect(zip(items, items.dropFirst()).allSatisfy { $0.loss >= $1.loss })
        #expect(indices(s) != indices(s).sorted())  // the fixture's loss order is not its index order
    }

    @Test func oSwitchesToTestIndexOrderAndBack() {
        let s = press([.character("m"), .right, .right, .character("o")])
        #expect(s.browser.order == .testIndex && s.browser.selected == 0)
        #expect(indices(s) == (100..<110).map { $0 } + [200])
        #expect(press([.character("o")], from: s).browser.order == .loss)
    }

    @Test func uShowsTheLeastSureCorrectPredictions() {
        let s = press([.character("m"), .character("u")])
        #expect(s.browser.view == .leastSure)
        #expect(indices(s) == [300, 302, 301, 303])  // p(true) 0.31, 0.38, 0.45, 0.5
        #expect(s.browser.items(in: model).allSatisfy { $0.isCorrect })
        #expect(indices(press([.character("o")], from: s)) == [300, 301, 302, 303])
        #expect(press([.character("u")], from: s).browser.view == .mistakes)
    }

    @Test func filtersWorkOnBothViewsAndKeepTheView() {
        // t three times: true class 2.
        let unsure = press([.character("m"), .character("u"), .character("t"), .character("t"), .character("t")])
        #expect(unsure.browser.view == .leastSure && unsure.browser.filter == .trueClass(2))
        #expect(indices(unsure) == [300, 302])
        let predicted = press([.character("m"), .character("u"), .character("c"), .character("c"), .character("c"),
                               .character("c"), .character("c"), .character("c")])
        #expect(predicted.browser.filter == .predictedClass(5) && indices(predicted) == [301])
        #expect(press([.character("a")], from: unsure).browser.view == .leastSure)
        #expect(indices(press([.character("a")], from: unsure)).count == 4)
        // A confusion cell opened from the overview, then switched to the other view and order.
        let cell = press([.tab, .tab, .tab, .tab, .down, .down, .right, .enter])
        #expect(cell.browser.filter == .cell(trueClass: 2, predictedClass: 1))
        #expect(indices(cell).isEmpty)
        #expect(press([.character("u")], from: cell).browser.filter == cell.browser.filter)
        var browse = press([.character("m")])
        browse.browser.filter = .cell(trueClass: 6, predictedClass: 0)
        #expect(indices(browse) == [200])
        #expect(indices(press([.character("u")], from: browse)).isEmpty)
        #expect(indices(press([.character("o")], from: browse)) == [200])
    }

    @Test func captionShowsLossAndTrueProbability() {
        let app = App(capabilities: .full, width: 100, height: 30)
        for e in Sample.events { app.handle(event: e) }
        app.handle(key: .character("m"))
        let grid = app.render()
        #expect(grid.contains("loss 6.908, p(true) 0.1%"))
        #expect(grid.contains("Misclassified 1/11, by loss"))
        app.handle(key: .character("u"))
        let unsure = app.render()
        #expect(unsure.contains("Least sure correct 1/4"))
        #expect(unsure.contains("loss 1.171, p(true) 31.0%"))
    }
}
