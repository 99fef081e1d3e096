import Foundation
import NIOPosix
import TernSMTP
import TernSpool

/// `[delivery] capture`: keeps outbound mail in one Maildir instead of
/// sending it (a trial, a staging host, tests). Each message lands there
/// once per attempt with every remote recipient in its `Delivered-To`
/// fields' place: one copy per recipient, as a real delivery would make.
public struct CaptureTransport: RemoteTransport {
    public let maildir: String
    private let spool: Spool
    private let delivery: MaildirDelivery
    private let pool: NIOThreadPool

    public init(maildir: String, spool: Spool, hostname: String, threadPool: NIOThreadPool) {
        self.maildir = maildir
        self.spool = spool
        self.delivery = MaildirDelivery(hostname: hostname)
        self.pool = threadPool
    }

    public func deliver(_ entry: SpoolEntry, to recipients: [Mailbox]) async -> [DeliveryOutcome] {
        let spool = self.spool
        let delivery = self.delivery
        let maildir = self.maildir
        do {
            return try await pool.runIfActive {
                recipients.map { recipient in
                    do {
                        let reader = try spool.openMessage(entry.id)
                        let written = try delivery.deliver(message: reader, to: maildir, returnPath: entry.envelope.sender,
                                                           deliveredTo: recipient)
                        return .delivered(detail: "captured in \(written.path)")
                    } catch let error as DeliveryError {
                        return DeliveryOutcome(error)
                    } catch {
                        return .temporaryFailure(SpoolReply(code: 451, enhancedStatus: "4.3.0",
                                                            text: "cannot read the queued message: \(error)"))
                    }
                }
            }
        } catch {
            return recipients.map { _ in .temporaryFailure(SpoolReply(code: 451, enhancedStatus: "4.3.0", text: "\(error)")) }
        }
    }
}
