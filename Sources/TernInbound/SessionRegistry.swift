import NIOCore
import Synchronization

/// The open session channels, so that a shutdown can tell each one to finish.
public final class SessionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    public init() {}

    func add(_ channel: any Channel) {
        channels.withLock { $0[ObjectIdentifier(channel)] = channel }
    }

    func remove(_ channel: any Channel) {
        channels.withLock { $0[ObjectIdentifier(channel)] = nil }
    }

    public var count: Int { channels.withLock { $0.count } }

    /// Asks every session to close as soon as it is idle (between transactions).
    public func drain() {
        let all = channels.withLock { Array($0.values) }
        for channel in all {
            channel.pipeline.fireUserInboundEventTriggered(SessionDrainEvent())
        }
    }

    /// Closes whatever is still open.
    public func closeAll() {
        let all = channels.withLock { Array($0.values) }
        for channel in all { channel.close(promise: nil) }
    }
}

/// Sent through the pipeline when the server stops.
struct SessionDrainEvent: Sendable {}
