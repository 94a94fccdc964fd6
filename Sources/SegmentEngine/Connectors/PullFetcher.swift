import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SegmentDomain

/// GETs a pull's URL from addresses the ``PullAddressPolicy`` permits, and only
/// from those: the host is resolved once, every address it has is checked, and
/// the connection is pinned to a checked one (the client's DNS override), so a
/// second lookup cannot answer differently. Redirects are followed by hand, each
/// hop resolved and checked by the same rule, and the `Authorization` header is
/// dropped when a hop changes origin. Failures are described without internal
/// detail ("could not connect"), so a pull cannot be used to scan a network.
struct PullFetcher: Sendable {
    let policy: PullAddressPolicy
    let resolver: any HostResolver
    static let maxRedirects = 5

    /// One GET: the URL, its headers and the secret header (sent to the first origin only).
    struct Request: Sendable {
        var url: String
        var headers: HTTPHeaders
        var authorization: String?
        var timeout: TimeAmount
    }

    /// Where a URL may be fetched from: its host and the checked address to connect to.
    struct Target: Sendable {
        let url: URL
        let host: String
        let address: IPAddress
        var origin: String { "\(url.scheme ?? "")://\(host):\(url.port ?? (url.scheme == "https" ? 443 : 80))" }
    }

    /// GETs `request.url` (following permitted redirects) and hands the final response to `read`.
    func fetch<Result: Sendable>(
        _ request: Request, _ read: @Sendable (HTTPClientResponse) async throws -> Result
    ) async throws -> Result {
        var current = try await target(request.url, redirected: false)
        let firstOrigin = current.origin
        for _ in 0...Self.maxRedirects {
            var headers = request.headers
            if let authorization = request.authorization, current.origin == firstOrigin {
                headers.replaceOrAdd(name: "Authorization", value: authorization)
            }
            let outcome: Outcome<Result> = try await Self.withClient(pinning: current) { client in
                var http = HTTPClientRequest(url: current.url.absoluteString)
                http.method = .GET
                http.headers = headers
                let response: HTTPClientResponse
                do {
                    response = try await client.execute(http, timeout: request.timeout)
                } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
                    throw DomainError(.unavailable, "the source did not answer in time")
                } catch {
                    throw DomainError(.unavailable, "could not connect to the source")
                }
                if [301, 302, 303, 307, 308].contains(response.status.code) {
                    guard let location = response.headers.first(name: "Location"),
                        let next = URL(string: location, relativeTo: current.url)?.absoluteURL
                    else { throw DomainError(.failedPrecondition, "the source answered \(response.status.code) without a usable Location") }
                    return .redirect(next)
                }
                return .done(try await read(response))
            }
            switch outcome {
            case .done(let result): return result
            case .redirect(let next): current = try await target(next.absoluteString, redirected: true)
            }
        }
        throw DomainError(.failedPrecondition, "the source redirected more than \(Self.maxRedirects) times")
    }

    private enum Outcome<Result: Sendable>: Sendable {
        case done(Result)
        case redirect(URL)
    }

    /// Parses, resolves and checks a URL; refuses it when any address of its host is not permitted.
    func target(_ text: String, redirected: Bool) async throws -> Target {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            var host = url.host, !host.isEmpty
        else {
            throw DomainError(.failedPrecondition, redirected ? "the source redirected to a URL that is not http(s)" : "the URL is not http(s)")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let addresses: [IPAddress]
        do {
            addresses = try await resolver.addresses(of: host)
        } catch {
            throw DomainError(
                .unavailable, redirected ? "could not resolve the host the source redirected to" : "could not resolve the source's host")
        }
        for address in addresses {
            if let why = policy.refusal(of: address) {
                let whose = redirected ? "the source redirected to a host whose address" : "the source's address"
                throw DomainError(
                    .failedPrecondition,
                    "refused: \(whose) is not public (\(why)); an operator can allow its network with pull_allowed_networks")
            }
        }
        return Target(url: url, host: host, address: addresses[0])
    }

    /// Runs `body` with a client that connects to `target.address` for its host, never following redirects.
    private static func withClient<Result: Sendable>(
        pinning target: Target, _ body: (HTTPClient) async throws -> Result
    ) async throws -> Result {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.dnsOverride = [target.host: target.address.description]
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
