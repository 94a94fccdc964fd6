import Foundation
import SegmentDomain
import SegmentStore
import Testing

@Suite("The README's role matrix is the code's")
struct RoleMatrixDocumentationTests {
    @Test("every row of the README's permission table matches the built-in roles")
    func readmeMatchesCode() throws {
        let readme = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        let headerIndex = try #require(lines.firstIndex { $0.hasPrefix("| permission | owner |") })
        let roles = lines[headerIndex].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.dropFirst()
        let all = BuiltInRole.tenantRoles + [.platformAdmin]
        #expect(Array(roles) == all.map(\.id))
        var documented: [String: Set<String>] = [:]
        for line in lines[(headerIndex + 2)...] {
            guard line.hasPrefix("| `") else { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let permission = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            for (index, role) in roles.enumerated() where cells[index + 2] == "✓" {
                documented[role, default: []].insert(permission)
            }
        }
        for role in all {
            #expect(documented[role.id, default: []] == Set(role.permissions.map(\.name)), "\(role.id)")
        }
    }
}
