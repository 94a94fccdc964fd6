import SegmentRules
import Testing

@Suite("Did you mean: the closest known name to a typo")
struct NameSuggestionTests {
    @Test("typos get the intended name; names far from every candidate get none")
    func suggestions() {
        let names = ["tier", "time_zone", "purchase", "add_to_cart", "country"]
        #expect(NameSuggestion.closest(to: "teir", among: names) == "tier")
        #expect(NameSuggestion.closest(to: "purchse", among: names) == "purchase")
        #expect(NameSuggestion.closest(to: "add_to_crt", among: names) == "add_to_cart")
        #expect(NameSuggestion.closest(to: "Country", among: names) == "country")
        #expect(NameSuggestion.closest(to: "revenue", among: names) == nil)
        #expect(NameSuggestion.closest(to: "x", among: names) == nil)
    }
}
