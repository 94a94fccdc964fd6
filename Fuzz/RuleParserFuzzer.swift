// libFuzzer target for the rule text parser. Built by ops/fuzz-rules together
// with SegmentRules' sources (no package build needed).
//
// Oracle: parsing never crashes or hangs, and whatever parses prints to text
// that parses back to the same rule.

@_cdecl("LLVMFuzzerTestOneInput")
public func ruleParserFuzzTest(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let text = String(decoding: bytes, as: UTF8.self)
    guard let rule = try? RuleText.parse(text) else { return 0 }
    let printed = RuleText.print(rule)
    guard let again = try? RuleText.parse(printed) else {
        fatalError("printed text does not parse:\n\(printed)")
    }
    if again != rule, !containsNaN(printed) {
        fatalError("parse(print(rule)) differs:\n\(printed)\n\(RuleText.print(again))")
    }
    _ = RuleRestatement.describe(rule)
    return 0
}

/// Rules compare numbers with ==, so NaN never equals itself; the lexer never produces it.
private func containsNaN(_ text: String) -> Bool { text.contains("nan") }
