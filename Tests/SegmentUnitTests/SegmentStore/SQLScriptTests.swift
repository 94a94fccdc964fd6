import Foundation
import SegmentDomain
import SegmentRules
import Testing

@testable import SegmentStore

@Suite("Splitting migration scripts into statements")
struct SQLScriptTests {
    @Test("semicolons inside strings, identifiers, dollar quotes and comments do not split")
    func quotingIsRespected() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE "we;ird" (a text DEFAULT 'x;y''z');
            /* block; comment */ CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $fn$
            BEGIN RETURN 1; END
            $fn$;
            SELECT $$a;b$$;
            """
        let statements = SQLScript.statements(script)
        #expect(statements.count == 3)
        #expect(statements[0].hasSuffix("CREATE TABLE \"we;ird\" (a text DEFAULT 'x;y''z')"))
        #expect(statements[1].contains("BEGIN RETURN 1; END"))
        #expect(statements[2] == "SELECT $$a;b$$")
    }

    @Test("empty statements and trailing comments are dropped")
    func emptiesDropped() {
        #expect(SQLScript.statements(";;  ;\n-- only a comment\n") == [])
        #expect(SQLScript.statements("SELECT 1;\n-- done") == ["SELECT 1"])
    }

    @Test("every shipped migration splits into statements and names the server role only through the placeholder")
    func shippedMigrationsSplit() {
        for migration in Migrations.all {
            let statements = migration.statements(appRole: "segmentd_app")
            #expect(!statements.isEmpty)
            #expect(statements.allSatisfy { !$0.contains("{{") })
        }
        #expect(Migrations.all.map(\.version) == Array(1...Migrations.all.count))
    }
}

@Suite("JSON text of ingested values")
struct IngestJSONTests {
    @Test("the hand-written JSON parses back to the same values, escapes included")
    func roundTrip() throws {
        let values: [String: RuleValue] = [
            "plain": .string("hello"), "quote": .string("say \"hi\"\\ now\n\ttab \u{01} é 漢"), "int": .number(42),
            "fraction": .number(-3.25), "big": .number(1e20), "flag": .bool(false),
            "list": .list(["a", "b\"c"]), "empty": .list([]),
        ]
        let text = values.jsonText
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(parsed["plain"] as? String == "hello")
        #expect(parsed["quote"] as? String == "say \"hi\"\\ now\n\ttab \u{01} é 漢")
        #expect((parsed["int"] as? NSNumber)?.doubleValue == 42)
        #expect((parsed["fraction"] as? NSNumber)?.doubleValue == -3.25)
        #expect((parsed["big"] as? NSNumber)?.doubleValue == 1e20)
        #expect(parsed["list"] as? [String] == ["a", "b\"c"])
        #expect(parsed["empty"] as? [String] == [])
        #expect([String: RuleValue]().jsonText == "{}")
    }
}
