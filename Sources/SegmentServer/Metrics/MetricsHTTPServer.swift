import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import SegmentDomain
import ServiceLifecycle
import Synchronization

/// Serves the Prometheus text format at `GET /metrics` on its own port, bound
/// to localhost unless configured otherwise.
public final class MetricsHTTPServer: Service, Sendable {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    private let boundPort = Mutex<Int?>(nil)

    public init(host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.host = host
        self.port = port
        self.registry = registry
        self.logger = logger
    }

    /// The port actually bound (useful with port 0), once running.
    public var listeningPort: Int? { boundPort.withLock { $0 } }

    public func run() async throws {
        let registry = self.registry
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(MetricsHandler(registry: registry))
                }
            }
            .bind(host: host, port: port).get()
        boundPort.withLock { $0 = channel.localAddress?.port }
        logger.info("metrics listening", metadata: ["address": "\(host):\(channel.localAddress?.port ?? port)"])
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

private final class MetricsHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let registry: PrometheusCollectorRegistry

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let found = head.method == .GET && (head.uri == "/metrics" || head.uri.hasPrefix("/metrics?"))
        let body: [UInt8] = found ? registry.emitToBuffer() : Array("not found; try /metrics\n".utf8)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: found ? "text/plain; version=0.0.4" : "text/plain")
        headers.add(name: "content-length", value: String(body.count))
        headers.add(name: "connection", value: "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: found ? .ok : .notFound, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
