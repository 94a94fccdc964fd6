import ArgumentParser
import Crypto
import Foundation
import GRPCCore
import SegmentDomain
import SegmentRules
import SegmentdAPI
import SegmentdClient

extension Segctl.Segments {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export a segment's members (user id and chosen attributes) to a file, verified by its SHA-256 (segments.export).",
            discussion: "The server writes the file, then segctl downloads it; a paused segment exports its last membership.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The segment id (or its full name).") var id: String
        @Option(name: .customLong("format"), help: "csv or ndjson.") var format = "csv"
        @Option(name: .customLong("attributes"), help: "Profile attributes to include, comma-separated.") var attributes: String?
        @Option(name: .shortAndLong, help: "The file to write (default: ID.csv or ID.ndjson).") var output: String?
        @Flag(name: .customLong("force"), help: "Overwrite the output file if it exists.") var force = false
        func run() async throws {
            let attributeList = (attributes ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let path = output ?? "\(shortID(id)).\(format)"
            // Checked before the job starts: a mistake costs nothing on the server.
            if FileManager.default.fileExists(atPath: path) && !force {
                throw ValidationError("\(path) exists: pass --force to overwrite it, or choose another file with --output")
            }
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            guard FileManager.default.isWritableFile(atPath: directory) else {
                throw ValidationError("cannot write to \(directory): choose another file with --output")
            }
            var operationName = ""
            try await runCommand {
                let operation = try await connection.withConnection { client in
                    let tenant = try await client.callerTenant()
                    if !attributeList.isEmpty {
                        let known = try await Self.attributes(client, tenant: tenant)
                        for attribute in attributeList where !known.contains(attribute) {
                            let hint = NameSuggestion.closest(to: attribute, among: known).map { " (did you mean '\($0)'?)" } ?? ""
                            throw ValidationError("unknown attribute '\(attribute)'\(hint); segctl catalog lists the tenant's attributes")
                        }
                    }
                    let name = Segctl.Segments.name(tenant, id)
                    return try await client.segments.exportSegment(
                        .with {
                            $0.name = name
                            $0.format = format
                            $0.attributes = attributeList
                        }, metadata: client.metadata)
                }
                operationName = operation.name
            }
            let final = try await Segctl.Jobs.follow(connection, id: operationName)
            guard final.state == .succeeded else { throw ExitCode(1) }
            try await runCommand {
                let result = final.export
                let progress = Progress(total: Int(result.bytes), unit: "bytes")
                let digest = try await connection.withConnection { client in
                    FileManager.default.createFile(atPath: path, contents: nil)
                    guard let handle = FileHandle(forWritingAtPath: path) else { throw ValidationError("cannot write \(path)") }
                    defer { try? handle.close() }
                    let request = ClientRequest(
                        message: Segmentd_V1_DownloadExportRequest.with { $0.name = result.export }, metadata: client.metadata)
                    return try await client.segments.downloadExport(request: request) { response in
                        var hasher = SHA256()
                        var done = 0
                        for try await chunk in response.messages {
                            try handle.write(contentsOf: chunk.data)
                            hasher.update(data: chunk.data)
                            done += chunk.data.count
                            progress.update(done)
                        }
                        progress.finish(done)
                        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
                    }
                }
                guard digest == result.sha256 else {
                    throw ValidationError(
                        "the download of \(result.export) does not match its SHA-256 (\(digest) ≠ \(result.sha256)); run the export again")
                }
                if connection.json { return try printJSON(final) }
                print("wrote \(path): \(result.rows) members, \(result.bytes) bytes, sha256 \(result.sha256) (verified)")
            }
        }

        /// The tenant's attribute keys, from the catalog.
        static func attributes(_ client: SegmentdConnection, tenant: String) async throws -> [String] {
            var keys: [String] = []
            var token = ""
            repeat {
                let page = try await client.catalog.listAttributes(
                    .with {
                        $0.parent = tenant
                        $0.pageSize = 1000
                        $0.pageToken = token
                    }, metadata: client.metadata)
                keys += page.attributes.map(\.key)
                token = page.nextPageToken
            } while !token.isEmpty
            return keys
        }
    }
}
