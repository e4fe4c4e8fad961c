import Foundation
import Hummingbird
import NIOCore

/// The request context of the scoring routes: Hummingbird's basic context plus a watch on the
/// connection, so a queued or running job can tell that its client has gone and stop instead
/// of computing an answer nobody will read.
public struct ScoringRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel
    let watch: ConnectionWatch?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
        watch = ConnectionWatch.registered(for: source.channel)
    }

    /// True once the client closed its side of the connection or the connection is gone.
    var clientGone: @Sendable () -> Bool {
        let channel = channel, watch = watch
        return { watch?.isClosed == true || !channel.isActive }
    }
}

/// Whether a connection's client has closed it. Hummingbird allows half-closed connections, so
/// a client that hangs up leaves the channel "active" until the server writes; the
/// `ClientCloseHandler` in the pipeline sees the end of input at once and records it here.
final class ConnectionWatch: @unchecked Sendable {
    private let lock = NSLock()
    private var closed = false

    var isClosed: Bool { lock.withLock { closed } }
    func markClosed() { lock.withLock { closed = true } }

    private static let registryLock = NSLock()
    nonisolated(unsafe) private static var registry: [ObjectIdentifier: ConnectionWatch] = [:]

    static func register(_ watch: ConnectionWatch, for channel: any Channel) {
        registryLock.withLock { registry[ObjectIdentifier(channel)] = watch }
    }

    static func unregister(_ channel: any Channel) {
        _ = registryLock.withLock { registry.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    static func registered(for channel: any Channel) -> ConnectionWatch? {
        registryLock.withLock { registry[ObjectIdentifier(channel)] }
    }
}

/// Passes everything through; notes the client's end of input (or the connection closing) in
/// the connection's `ConnectionWatch`.
final class ClientCloseHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = Any
    let watch = ConnectionWatch()

    func handlerAdded(context: ChannelHandlerContext) {
        ConnectionWatch.register(watch, for: context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        ConnectionWatch.unregister(context.channel)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { watch.markClosed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watch.markClosed()
        context.fireChannelInactive()
    }
}
