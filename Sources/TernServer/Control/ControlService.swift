import Foundation
import Logging
import NIOPosix
import TernDelivery
import TernSMTP
import TernSpool
#if canImport(Glibc)
import Glibc
#endif

/// The running server's side of the control socket: queue listing and
/// changes through the scheduler, local submissions into the spool. File
/// work runs on `pool`, never on the cooperative threads.
struct ControlService: ControlHandling {
    let spool: Spool
    let scheduler: DeliveryScheduler
    let pool: NIOThreadPool
    let submissions: LocalSubmissions
    let reload: @Sendable () async -> [String]
    let logger: Logger

    var maximumSubmissionSize: Int { submissions.rules.maximumSize }

    func handle(_ request: ControlRequest, body: [UInt8], peer: PeerCredentials) async -> ControlResponse {
        let identity = LocalSubmission.Identity(uid: peer.uid)
        if request.command != .submit, !Self.isAdministrator(peer, name: identity.name) {
            logger.warning("control: \(request.command.rawValue) refused to uid \(peer.uid) (\(identity.name))")
            return ControlResponse(error: "permission denied: \(request.command.rawValue) is for root, the server's user "
                                   + "and members of the \(Self.administratorGroup) group")
        }
        do {
            switch request.command {
            case .list:
                var response = ControlResponse()
                let spool = self.spool
                response.listing = try await pool.runIfActive { try QueueAdministration.list(spool) }
                return response
            case .show:
                guard let text = request.id, let id = QueueID(text) else {
                    return ControlResponse(error: "\(NotAQueueID(text: request.id ?? ""))")
                }
                var response = ControlResponse()
                let spool = self.spool
                response.entry = try await pool.runIfActive { try QueueAdministration.show(id, spool: spool) }
                return response
            case .change:
                guard let change = request.change, let target = request.target else {
                    return ControlResponse(error: "a change needs what to do and to which messages")
                }
                var response = ControlResponse()
                var changes: [String: QueueChangeResult] = [:]
                let spool = self.spool
                for id in try await pool.runIfActive({ try Self.select(target, in: spool) }) {
                    do {
                        changes[id.text] = try await scheduler.change(id, change)
                    } catch SpoolError.notFound {
                        if case .id = target { throw SpoolError.notFound(id) }  // else: delivered meanwhile
                    }
                }
                response.changes = changes
                return response
            case .submit:
                guard let submission = request.submission else { return ControlResponse(error: "no submission") }
                var response = ControlResponse()
                let submissions = self.submissions
                response.queueID = try await pool.runIfActive {
                    try submissions.queue(submission, identity: identity, message: body).text
                }
                return response
            case .reload:
                var response = ControlResponse()
                response.messages = await reload()
                return response
            }
        } catch SpoolError.notFound(let id) {
            return ControlResponse(error: "no message \(id) in the queue")
        } catch {
            return ControlResponse(error: "\(error)")
        }
    }

    /// The IDs a target names (an unknown single ID is passed on, for the
    /// change to report it).
    static func select(_ target: ControlRequest.Target, in spool: Spool) throws -> [QueueID] {
        switch target {
        case .id(let text):
            guard let id = QueueID(text) else { throw NotAQueueID(text: text) }
            return [id]
        case .all:
            return try spool.queuedIDs()
        case .deferred:
            return try QueueAdministration.select(spool) { entry in
                entry.recipients.contains { if case .deferred = $0.state { true } else { false } }
            }
        case .domain(let name):
            let domain = try? Domain(parsing: name)
            return try QueueAdministration.select(spool) { entry in
                entry.recipients.contains { $0.state.needsDelivery && $0.mailbox.domain == domain }
            }
        }
    }

    struct NotAQueueID: Error, CustomStringConvertible {
        var text: String
        var description: String { "\"\(text)\" is not a queue ID (tern queue list shows them)" }
    }

    /// Members of this group may use the queue commands.
    static let administratorGroup = "tern"

    static func isAdministrator(_ peer: PeerCredentials, name: String) -> Bool {
        if peer.uid == 0 || peer.uid == geteuid() { return true }
        var group = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(administratorGroup, &group, &buffer, buffer.count, &result) == 0, result != nil else { return false }
        let gid = group.gr_gid
        if peer.gid == gid { return true }
        var groups = [gid_t](repeating: 0, count: 256)
        var count = Int32(groups.count)
        guard getgrouplist(name, peer.gid, &groups, &count) >= 0 else { return false }
        return groups.prefix(Int(count)).contains(gid)
    }
}

/// Local submissions into the spool: from the control socket, and from the
/// pickup directory.
struct LocalSubmissions: Sendable {
    let rules: LocalSubmission
    let spool: Spool
    let scheduler: DeliveryScheduler
    /// DKIM-Signature fields for a message (empty when its From domain has no keys).
    let sign: @Sendable ([UInt8]) -> [UInt8]
    let logger: Logger

    /// Prepares, signs, stores durably and schedules; returns the queue ID.
    func queue(_ request: LocalSubmission.Request, identity: LocalSubmission.Identity,
               message: [UInt8]) throws -> QueueID {
        let id = QueueID.generate()
        let prepared = try rules.prepare(request, identity: identity, message: message, id: id)
        let signature = sign(prepared.message)
        _ = try spool.accept(id: id, envelope: prepared.envelope, origin: prepared.origin,
                             messageParts: [signature, prepared.message])
        scheduler.enqueue(id)
        logger.info("\(id): accepted from local user \(identity.name)", metadata: [
            "queue_id": "\(id)", "uid": "\(identity.uid)", "from": "\(prepared.envelope.sender)",
            "recipients": "\(prepared.envelope.recipients.count)", "size": "\(prepared.message.count)",
        ])
        return id
    }
}
