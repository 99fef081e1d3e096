import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import TernSMTP

/// Runs one `ServerSession` on a channel: performs its actions and feeds it
/// bytes, TLS events, timeouts and the answers of the policy and the queue.
/// Thin by design (STYLE 1): every protocol decision lives in the session.
final class SMTPServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shared: ListenerContext
    private var session: ServerSession
    private var logger: Logger
    private var clientAddress = "unknown"
    /// The client's forward-confirmed name, once the lookup started at
    /// connect has answered.
    private var reverseName: String?
    /// The lookup has not answered yet: a message that is complete waits
    /// for it (at most `reverseNameWait`) so that its Received field names
    /// the client.
    private var reverseNamePending = false
    private var waitingDelivery: DeliveryRequest?
    private var waitingTimer: Scheduled<Void>?
    /// The longest a complete message waits for the client's name.
    static let reverseNameWait: TimeAmount = .seconds(2)
    private var admitted = false
    private var started = false
    private var lastActivity = NIODeadline.now()
    private var transferStarted: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerDeadline = NIODeadline.distantFuture
    private var drainRequested = false

    init(shared: ListenerContext) {
        self.shared = shared
        self.session = ServerSession(configuration: shared.session)
        self.logger = shared.logger
    }

    private var role: SessionConfiguration.Role { shared.session.role }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        clientAddress = SMTPServerHandler.address(of: context.channel.remoteAddress)
        logger[metadataKey: "client"] = "\(clientAddress)"
        logger[metadataKey: "listener"] = "\(role.rawValue)"
        shared.metrics.connectionOpened()
        let admission = shared.connections.acquire(clientAddress)
        guard admission == .admitted else {
            shared.metrics.connectionRefused(admission)
            logger.notice("connection refused", metadata: ["reason": "\(admission)"])
            // On the implicit-TLS port a plaintext reply would not be understood: just close.
            if role == .submissions {
                context.close(promise: nil)
            } else {
                let reply = admission == .tooMany ? Replies.tooManyConnections : Replies.tooManyConnectionsFromIP
                closeAfter(reply, context: context)
            }
            return
        }
        admitted = true
        shared.registry.add(context.channel)
        logger.info("connection opened")
        lookUpReverseName(context: context)
        scheduleTimer(context: context, after: shared.timeouts.command)
        if role != .submissions {
            started = true
            run(session.start(), context: context)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        // A message still waiting for the client's name got no 250: it is not stored.
        waitingTimer?.cancel()
        waitingDelivery = nil
        if admitted {
            shared.connections.release(clientAddress)
            shared.registry.remove(context.channel)
            logger.info("connection closed", metadata: ["messages": "\(session.messagesAccepted)"])
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard started else { return }
        lastActivity = .now()
        run(session.receive(unwrapInboundIn(data)), context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            let info = tlsInfo(context: context)
            logger.info("TLS established", metadata: ["version": "\(info.version)", "cipher": "\(info.cipher)"])
            shared.metrics.tlsEstablished(version: info.version)
            lastActivity = .now()
            if started {
                run(session.tlsEstablished(info), context: context)
            } else {
                // Implicit TLS (RFC 8314): the greeting comes after the handshake.
                started = true
                var actions = session.tlsEstablished(info)
                actions += session.start()
                run(actions, context: context)
            }
        } else if event is SessionDrainEvent {
            drainRequested = true
            if session.isIdle { run(session.shutdown(), context: context) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS handshake failures, resets: nothing to answer, nothing was accepted.
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Performing the session's actions

    private func run(_ actions: [SessionAction], context: ChannelHandlerContext) {
        var queue = actions[...]
        var wrote = false
        while let action = queue.popFirst() {
            switch action {
            case .send(let reply):
                if let refusal = InboundMetrics.sessionRefusal(reply) { shared.metrics.rejected(refusal) }
                context.write(wrapOutboundOut(context.channel.allocator.buffer(string: reply.wire)), promise: nil)
                wrote = true
            case .close:
                lingeringClose(context: context)
                return
            case .startTLS:
                context.flush()
                wrote = false
                startTLS(context: context)
            case .checkSender(let path, _):
                let refusal = shared.policy.checkSender(path, facts: facts)
                if refusal != nil { shared.metrics.rejected(.sender) }
                queue.append(contentsOf: session.resume(.sender(refusal)))
            case .checkRecipient(let mailbox, _):
                let refusal = shared.policy.checkRecipient(mailbox, facts: facts)
                if let refusal { shared.metrics.rejected(InboundMetrics.recipientRefusal(refusal)) }
                queue.append(contentsOf: session.resume(.recipient(refusal)))
            case .authenticate(let request):
                authenticate(request, context: context)
            case .deliver(let request):
                deliver(request, context: context)
            }
        }
        if wrote { context.flush() }
        if drainRequested && session.isIdle && !session.isClosed {
            run(session.shutdown(), context: context)
            return
        }
        updateTransferClock()
        armTimer(context: context)
        applyBackpressure(context: context)
    }

    /// While the session waits (on the spool, on AUTH) a client may keep
    /// sending; past this many buffered bytes we stop reading until it has
    /// caught up, so no peer can make us buffer without bound.
    static let maximumBufferedInput = 256 * 1024
    private var readingPaused = false

    private func applyBackpressure(context: ChannelHandlerContext) {
        let full = session.bufferedInputBytes > SMTPServerHandler.maximumBufferedInput
        guard full != readingPaused, context.channel.isActive else { return }
        readingPaused = full
        context.channel.setOption(ChannelOptions.autoRead, value: !full).whenFailure { _ in }
    }

    private var facts: SessionFacts {
        SessionFacts(role: role, clientAddress: clientAddress, authenticatedUser: session.authenticatedUser)
    }

    /// RFC 3207 §4.2: the 220 went out in plaintext; TLS starts with the next byte.
    private func startTLS(context: ChannelHandlerContext) {
        guard let provider = shared.tls else {
            context.close(promise: nil)
            return
        }
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: provider.context), position: .first)
            try context.pipeline.syncOperations.addHandler(ServerHelloSniffer(), position: .first)
        } catch {
            logger.error("could not start TLS", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    private func tlsInfo(context: ChannelHandlerContext) -> TLSInfo {
        let ops = context.pipeline.syncOperations
        let version: String
        switch (try? ops.handler(type: NIOSSLServerHandler.self))?.tlsVersion {
        case .tlsv13: version = "TLSv1.3"
        case .tlsv12: version = "TLSv1.2"
        case .tlsv11: version = "TLSv1.1"
        case .tlsv1: version = "TLSv1"
        case .none: version = "TLS"
        }
        var cipher = "unknown"
        if let sniffer = try? ops.handler(type: ServerHelloSniffer.self) {
            cipher = sniffer.cipher ?? cipher
            _ = ops.removeHandler(sniffer)
        }
        return TLSInfo(version: version, cipher: cipher)
    }

    // MARK: AUTH

    private func authenticate(_ request: AuthRequest, context: ChannelHandlerContext) {
        if shared.authFailures.isBlocked(clientAddress) {
            logger.warning("AUTH refused: too many failures from this address", metadata: ["user": "\(request.username)"])
            run([.send(Replies.tooManyAuthFailures), .close], context: context)
            return
        }
        let policy = shared.policy
        let username = request.username
        let password = request.password
        // RFC 4616 §2: acting as someone else is not allowed.
        let authzOK = request.authorizationID.isEmpty || request.authorizationID.lowercased() == username.lowercased()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        shared.authPool.runIfActive(eventLoop: context.eventLoop) { () -> String? in
            authzOK ? policy.authenticate(username: username, password: password) : nil
        }.whenComplete { result in
            let (handler, context) = bound.value
            handler.finishAuthentication(user: (try? result.get()) ?? nil, request: request, context: context)
        }
    }

    private func finishAuthentication(user: String?, request: AuthRequest, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if let user {
            logger.info("AUTH succeeded", metadata: ["user": "\(user)", "mechanism": "\(request.mechanism)"])
            run(session.resume(.authentication(user)), context: context)
            return
        }
        let failures = shared.authFailures.record(clientAddress)
        shared.metrics.authenticationFailed()
        logger.warning("AUTH failed", metadata: ["user": "\(request.username)", "mechanism": "\(request.mechanism)",
                                                 "failures": "\(failures)"])
        let delay = shared.authFailures.delay(afterFailures: failures)
        let blocked = failures >= shared.authFailures.limit
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .milliseconds(Int64(delay * 1000))) {
            let (handler, context) = bound.value
            guard context.channel.isActive else { return }
            var actions = handler.session.resume(.authentication(nil))
            if blocked {
                handler.session = ServerSession(configuration: handler.shared.session)  // forget the rest
                actions = actions.filter { if case .send = $0 { return true } else { return false } }
                actions += [.send(Replies.tooManyAuthFailures), .close]
            }
            handler.run(actions, context: context)
        }
    }

    // MARK: Reverse DNS

    /// Runs `work` off the event loop, then `then` back on it — unless the
    /// connection has closed meanwhile (its loop may be stopping).
    private func offLoop<T: Sendable>(context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> T,
                                      then: @escaping @Sendable (SMTPServerHandler, ChannelHandlerContext, T) -> Void) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let channel = context.channel
        Task {
            let result = await work()
            guard channel.isActive else { return }
            eventLoop.execute {
                let (handler, context) = bound.value
                then(handler, context, result)
            }
        }
    }

    /// Starts the client's reverse lookup; its answer is kept on the event loop.
    private func lookUpReverseName(context: ChannelHandlerContext) {
        guard let lookup = shared.reverseNames, clientAddress != "unknown" else { return }
        reverseNamePending = true
        let address = clientAddress
        offLoop(context: context, { await lookup.verifiedName(of: address) }) { handler, context, name in
            handler.reverseNameFound(name, context: context)
        }
    }

    private func reverseNameFound(_ name: String?, context: ChannelHandlerContext) {
        reverseName = name
        reverseNamePending = false
        if name == nil { logger.debug("client has no verified reverse name") }
        releaseWaitingDelivery(context: context)
    }

    private func releaseWaitingDelivery(context: ChannelHandlerContext) {
        waitingTimer?.cancel()
        waitingTimer = nil
        guard let request = waitingDelivery else { return }
        waitingDelivery = nil
        authenticateThenStore(request, context: context)
    }

    // MARK: Checks after DATA

    /// Runs the authenticator (when there is one) off the event loop, then
    /// stores the message as it decides, or refuses it.
    private func authenticateThenStore(_ request: DeliveryRequest, context: ChannelHandlerContext) {
        guard let authenticator = shared.authenticator else {
            store(request, context: context)
            return
        }
        let message = request.message
        let header = SMTPServerHandler.headerSection(of: message)
        let facts = ReceivedMessageFacts(role: role, clientAddress: clientAddress, heloName: request.heloName,
                                         sender: request.envelope.sender, authenticatedUser: request.authenticatedUser,
                                         headerSection: header, message: message)
        // A client gone before the verdict got no 250: nothing is stored.
        offLoop(context: context, { await authenticator.check(facts) }) { handler, context, decision in
            switch decision {
            case .refuse(let reply):
                handler.shared.metrics.rejected(InboundMetrics.checksRefusal(reply))
                handler.logger.notice("message refused by policy", metadata: [
                    "reply": "\(reply)", "from": "\(request.envelope.sender)",
                ])
                handler.run(handler.session.resume(.delivery(reply)), context: context)
            case .accept(let prepend, let remove, let folder):
                var changed = request
                if !remove.isEmpty {
                    changed.message = SMTPServerHandler.removing(remove, from: message)
                }
                handler.store(changed, context: context, traceFields: prepend, folder: folder)
            }
        }
    }

    /// `spf=pass dkim=fail dmarc=pass`: the results named in the
    /// Authentication-Results field the checks wrote, for the log; nil
    /// when there is none.
    static func verdicts(in traceFields: String) -> String? {
        guard let start = traceFields.range(of: "Authentication-Results:") else { return nil }
        // The field: its first line and the folded lines after it.
        var field = ""
        for (i, line) in traceFields[start.upperBound...].components(separatedBy: "\r\n").enumerated() {
            if i > 0 && !(line.hasPrefix(" ") || line.hasPrefix("\t")) { break }
            field += " " + line
        }
        let words = field.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == ";" })
        let results = words.filter { word in
            ["spf=", "dkim=", "dmarc=", "auth="].contains { word.lowercased().hasPrefix($0) }
        }
        return results.isEmpty ? nil : results.joined(separator: " ")
    }

    /// The header section of a message: up to and including the first
    /// empty line, or all of it.
    static func headerSection(of message: ByteBuffer) -> [UInt8] {
        let view = message.readableBytesView
        var index = view.startIndex
        var lineStart = true
        while index < view.endIndex {
            if lineStart, view[index] == 13, view.index(after: index) < view.endIndex,
               view[view.index(after: index)] == 10 {
                return Array(view[view.startIndex..<view.index(index, offsetBy: 2)])
            }
            lineStart = view[index] == 10
            index = view.index(after: index)
        }
        return Array(view)
    }

    /// The message without the byte ranges given (relative to its start).
    static func removing(_ ranges: [Range<Int>], from message: ByteBuffer) -> ByteBuffer {
        let bytes = Array(message.readableBytesView)
        var out = ByteBuffer()
        out.reserveCapacity(bytes.count)
        var at = 0
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where range.lowerBound >= at {
            out.writeBytes(bytes[at..<min(range.lowerBound, bytes.count)])
            at = min(range.upperBound, bytes.count)
        }
        out.writeBytes(bytes[at...])
        return out
    }

    // MARK: Delivery to the queue

    /// Stores a complete message, once the client's name is known (or has
    /// been waited for long enough).
    private func deliver(_ request: DeliveryRequest, context: ChannelHandlerContext) {
        guard reverseNamePending else {
            authenticateThenStore(request, context: context)
            return
        }
        waitingDelivery = request
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        waitingTimer = context.eventLoop.scheduleTask(in: SMTPServerHandler.reverseNameWait) {
            let (handler, context) = bound.value
            handler.logger.debug("reverse lookup still unanswered; storing without the client's name")
            handler.reverseNamePending = false
            handler.releaseWaitingDelivery(context: context)
        }
    }

    private func store(_ request: DeliveryRequest, context: ChannelHandlerContext, traceFields: String = "",
                       folder: String? = nil) {
        let queue = shared.queue
        let id = queue.makeID()
        var origin = MessageOrigin(role: role.rawValue, clientAddress: clientAddress, heloName: request.heloName,
                                   reverseName: reverseName, tlsVersion: request.tls?.version, tlsCipher: request.tls?.cipher,
                                   authenticatedUser: request.authenticatedUser, protocolName: request.protocolName,
                                   receivedAt: Date())
        origin.folder = folder
        let received = traceFields + ReceivedField.render(heloName: request.heloName, reverseName: reverseName, clientAddress: clientAddress,
                                            tls: request.tls, hostname: shared.session.hostname,
                                            protocolName: request.protocolName, id: id,
                                            recipients: request.envelope.recipients.map(\.mailbox), date: origin.receivedAt)
        let envelope = request.envelope
        let body = request.message
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        shared.storePool.runIfActive(eventLoop: context.eventLoop) {
            try queue.store(id: id, envelope: envelope, origin: origin, receivedField: received, body: body)
        }.whenComplete { result in
            let (handler, context) = bound.value
            switch result {
            case .success:
                queue.committed(id: id)
                handler.shared.metrics.messageAccepted()
                var metadata: Logger.Metadata = [
                    "id": "\(id)", "size": "\(body.readableBytes)", "from": "\(envelope.sender)",
                    "to": "\(envelope.recipients.map { $0.mailbox.text })",
                ]
                if let verdicts = SMTPServerHandler.verdicts(in: traceFields) { metadata["verdicts"] = "\(verdicts)" }
                handler.logger.info("message accepted", metadata: metadata)
                handler.run(handler.session.resume(.delivery(Replies.queued(id))), context: context)
            case .failure(let error):
                handler.logger.error("message not stored", metadata: ["id": "\(id)", "error": "\(error)"])
                handler.shared.metrics.rejected(.storage)
                let reply = (error as? SMTPReply) ?? Replies.storageFailed
                handler.run(handler.session.resume(.delivery(reply)), context: context)
            }
        }
    }

    // MARK: Timeouts (RFC 5321 §4.5.3.2)

    private func updateTransferClock() {
        if session.timeoutKind == .dataBlock {
            if transferStarted == nil { transferStarted = .now() }
        } else {
            transferStarted = nil
        }
    }

    private func scheduleTimer(context: ChannelHandlerContext, after delay: TimeAmount) {
        timer?.cancel()
        timerDeadline = .now() + delay
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            handler.timer = nil
            handler.checkTimeout(context: context)
        }
    }

    /// When the current state's timeout runs out, or nil while the session waits on us.
    private var currentDeadline: NIODeadline? {
        let t = shared.timeouts
        switch session.timeoutKind {
        case .command: return lastActivity + t.command
        case .dataBlock:
            let block = lastActivity + t.dataBlock
            guard let start = transferStarted else { return block }
            return min(block, start + t.dataTotal)
        case .none: return nil
        }
    }

    /// Makes sure the timer fires no later than the current deadline; a
    /// later-firing timer just re-checks, so most reads reschedule nothing.
    private func armTimer(context: ChannelHandlerContext) {
        guard !session.isClosed, let deadline = currentDeadline else { return }
        if timer == nil || timerDeadline > deadline {
            scheduleTimer(context: context, after: max(deadline - .now(), .zero))
        }
    }

    private func checkTimeout(context: ChannelHandlerContext) {
        guard context.channel.isActive, !session.isClosed else { return }
        guard let deadline = currentDeadline else {
            scheduleTimer(context: context, after: shared.timeouts.command)
            return
        }
        let now = NIODeadline.now()
        if now >= deadline {
            logger.notice("timeout", metadata: ["state": "\(session.timeoutKind)"])
            run(session.timedOut(), context: context)
        } else {
            scheduleTimer(context: context, after: deadline - now)
        }
    }

    // MARK: Helpers

    private func closeAfter(_ reply: SMTPReply, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(context.channel.allocator.buffer(string: reply.wire)), promise: nil)
        lingeringClose(context: context)
    }

    /// Sends what is pending, then closes our side only and drops whatever
    /// the client still sends for a moment before closing for good. Closing
    /// with unread input would make the kernel answer with a reset, and the
    /// client could lose the last reply (the 521 that says why).
    private func lingeringClose(context: ChannelHandlerContext) {
        timer?.cancel()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            let context = bound.value
            guard context.channel.isActive else { return }
            context.close(mode: .output).whenFailure { _ in bound.value.close(promise: nil) }
            context.eventLoop.scheduleTask(in: .seconds(2)) { bound.value.close(promise: nil) }
        }
    }

    /// The client's IP as text; IPv4-mapped IPv6 shown as IPv4.
    static func address(of socketAddress: SocketAddress?) -> String {
        guard let ip = socketAddress?.ipAddress else { return "unknown" }
        if ip.hasPrefix("::ffff:"), ip.dropFirst(7).contains(".") { return String(ip.dropFirst(7)) }
        return ip
    }
}
