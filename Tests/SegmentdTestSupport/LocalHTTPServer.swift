import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 for tests of scheduled pulls: each
/// request is recorded (path and headers) and answered by `respond`, which may
/// delay the answer or stream a body in pieces.
public final class LocalHTTPServer: Sendable {
    public struct Request: Sendable {
        public let path: String
        public let headers: [String: String]
        public func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        /// Wait this long before answering (a slow source).
        public var delay: Duration?

        public init(status: Int = 200, headers: [(String, String)] = [], body: String = "", delay: Duration? = nil) {
            self.status = status
            self.headers = headers
            self.body = Array(body.utf8)
            self.delay = delay
        }
    }

    let channel: any Channel
    let recorded: Mutex<[Request]>
    public let port: Int

    /// Requests so far, oldest first.
    public var requests: [Request] { recorded.withLock { $0 } }

    public var url: String { "http://127.0.0.1:\(port)" }

    init(channel: any Channel, port: Int) {
        self.channel = channel
        self.recorded = Mutex([])
        self.port = port
    }

    public static func start(_ respond: @escaping @Sendable (Request) -> Response) async throws -> LocalHTTPServer {
        let log = Box()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(respond: respond, log: log))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = LocalHTTPServer(channel: channel, port: channel.localAddress?.port ?? 0)
        log.server.withLock { $0 = server }
        return server
    }

    public func stop() async {
        try? await channel.close()
    }

    /// Lets handlers record into the server made after the bootstrap.
    final class Box: Sendable {
        let server = Mutex<LocalHTTPServer?>(nil)
    }

    /// `@unchecked Sendable`: NIO runs a handler on its channel's one event loop, so `head`
    /// is never touched concurrently; the conformance only lets the bootstrap closure make it.
    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let respond: @Sendable (Request) -> Response
        let log: Box
        var head: HTTPRequestHead?

        init(respond: @escaping @Sendable (Request) -> Response, log: Box) {
            self.respond = respond
            self.log = log
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                var headers: [String: String] = [:]
                for (name, value) in head.headers { headers[name.lowercased()] = value }
                let request = Request(path: head.uri, headers: headers)
                log.server.withLock { $0?.recorded.withLock { $0.append(request) } }
                let response = respond(request)
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let send = {
                    let (handler, context) = loopBound.value
                    var responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: response.status))
                    for (name, value) in response.headers { responseHead.headers.add(name: name, value: value) }
                    if !response.headers.contains(where: { $0.0.lowercased() == "content-length" }) {
                        responseHead.headers.add(name: "Content-Length", value: String(response.body.count))
                    }
                    context.write(handler.wrapOutboundOut(.head(responseHead)), promise: nil)
                    if !response.body.isEmpty {
                        context.write(handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
                    }
                    context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
                }
                if let delay = response.delay {
                    let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
                    context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) { send() }
                } else {
                    send()
                }
                self.head = nil
            }
        }
    }
}
