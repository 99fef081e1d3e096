import Foundation
import Testing
import TernSMTP
import TernSpool
@testable import TernDelivery

/// The bounce stage inside a running scheduler: real spool, real Maildirs.
@Suite("Bounces and delay notices", .timeLimit(.minutes(2)))
struct NoticeSchedulerTests {
    static let localSender = ["sender@example.org": TableRouter.local("sender@example.org")]

    func accept(_ h: Harness, _ recipients: [EnvelopeRecipient], sender: String? = "sender@example.org") throws -> QueueID {
        let envelope = Envelope(sender: sender.map { .mailbox(Sample.mailbox($0)) } ?? .null, recipients: recipients,
                                body: .eightBitMIME)
        return try h.spool.accept(envelope: envelope, origin: Sample.origin, message: Sample.message)
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The queue IDs the scheduler worked on.
    func processedIDs(_ events: EventRecorder) -> Set<QueueID> {
        Set(events.all.compactMap { if case .processed(let id, _, _) = $0 { return id } else { return nil } })
    }

    @Test("An unknown local user bounces to the local sender's Maildir: Action failed, Status 5.1.1; the spool empties")
    func bounceToLocalSender() async throws {
        let h = try Harness(router: TableRouter(Self.localSender))
        let id = try h.accept(["gone@example.com"])
        let mailbox = h.maildir("sender", "example.org")
        try await h.withScheduler { _, events in
            try await events.waitUntil { _ in
                events.completed(id) && h.newFiles(mailbox).count == 1 && fileNames(h.dir.path + "/spool/env").isEmpty
            }
        }
        let bounce = text(try #require(h.newFiles(mailbox).first))
        #expect(bounce.hasPrefix("Return-Path: <>\nDelivered-To: sender@example.org\n"))
        #expect(bounce.contains("From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\n"))
        #expect(bounce.contains("To: sender@example.org\n"))
        #expect(bounce.contains("Subject: Undelivered Mail Returned to Sender\n"))
        #expect(bounce.contains("Auto-Submitted: auto-replied\n"))
        #expect(bounce.contains("Final-Recipient: rfc822;gone@example.com\nAction: failed\nStatus: 5.1.1\n"))
        #expect(bounce.contains("Diagnostic-Code: smtp; 550 5.1.1 <gone@example.com>: user unknown\n"))
        #expect(bounce.contains("X-Tern-Queue-ID: \(id)\n"))
        #expect(bounce.contains("Content-Type: message/rfc822\n"))
        #expect(bounce.contains("From: Sender <sender@example.org>\nSubject: test\n\nHello\n"))
        #expect(fileNames(h.dir.path + "/spool/state").isEmpty)
        #expect(h.logs.lines.withLock { $0 }.contains { $0.contains("\(id): sender notice queued as ") })
    }

    @Test("A message from <> never bounces (RFC 5321 §4.5.5)")
    func nullSender() async throws {
        let h = try Harness(router: TableRouter(Self.localSender))
        let id = try h.accept(["gone@example.com"], sender: nil)
        let recorder = EventRecorder()
        try await h.withScheduler(recorder) { _, events in
            try await events.waitUntil { _ in events.completed(id) }
        }
        #expect(processedIDs(recorder) == [id])
        #expect(fileNames(h.dir.path + "/spool/env").isEmpty)
        #expect(h.newFiles(h.maildir("sender", "example.org")).isEmpty)
    }

    @Test("NOTIFY without FAILURE (NEVER, or SUCCESS alone) means no bounce (RFC 3461 §4.1)",
          arguments: [DSNNotify.never, DSNNotify(success: true, failure: false, delay: false)])
    func notifyWithoutFailure(notify: DSNNotify) async throws {
        let h = try Harness(router: TableRouter(Self.localSender))
        let id = try accept(h, [EnvelopeRecipient(mailbox: Sample.mailbox("gone@example.com"), notify: notify)])
        let recorder = EventRecorder()
        try await h.withScheduler(recorder) { _, events in
            try await events.waitUntil { _ in events.completed(id) }
        }
        #expect(processedIDs(recorder) == [id])
        #expect(h.newFiles(h.maildir("sender", "example.org")).isEmpty)
    }

    @Test("One delay notice after delayWarning while a recipient is deferred, not two")
    func delayNoticeOnce() async throws {
        let router = TableRouter(Self.localSender)
        router.set("slow@example.com", .temporaryFailure("users file unreadable"))
        let h = try Harness(router: router, retry: RetrySchedule(initialDelay: .milliseconds(100), multiplier: 1, jitter: 0)) {
            $0.delayWarning = .milliseconds(300)
        }
        let id = try h.accept(["slow@example.com"])
        let mailbox = h.maildir("sender", "example.org")
        try await h.withScheduler { _, events in
            try await events.waitUntil { _ in h.newFiles(mailbox).count == 1 }
            let seen = events.processed(id).count
            // Several more attempts on the original: still one notice.
            try await events.waitUntil { _ in events.processed(id).count >= seen + 4 }
        }
        #expect(h.newFiles(mailbox).count == 1)
        let entry = try h.spool.load(id)
        #expect(entry.delayNoticeSentAt != nil)
        guard case .deferred = entry.recipients[0].state else {
            Issue.record("expected deferred, got \(entry.recipients[0].state)")
            return
        }
        let notice = text(try #require(h.newFiles(mailbox).first))
        #expect(notice.contains("Subject: Delayed Mail (still being retried)\n"))
        #expect(notice.contains("Final-Recipient: rfc822;slow@example.com\nAction: delayed\nStatus: 4.3.0\n"))
        #expect(notice.contains("Will-Retry-Until: "))
        #expect(notice.contains("Content-Type: text/rfc822-headers\n"))
        #expect(!notice.contains("Hello"))
    }

    @Test("No delay notice for a recipient whose NOTIFY leaves DELAY out, or with delay notices off")
    func noDelayNotice() async throws {
        for (notify, warning) in [(DSNNotify(success: false, failure: true, delay: false), Duration?.some(.milliseconds(100))),
                                  (nil, nil)] {
            let router = TableRouter(Self.localSender)
            router.set("slow@example.com", .temporaryFailure("users file unreadable"))
            let h = try Harness(router: router, retry: RetrySchedule(initialDelay: .milliseconds(100), multiplier: 1, jitter: 0)) {
                $0.delayWarning = warning
            }
            let id = try accept(h, [EnvelopeRecipient(mailbox: Sample.mailbox("slow@example.com"), notify: notify)])
            try await h.withScheduler { _, events in
                try await events.waitUntil { _ in events.processed(id).count >= 5 }
            }
            #expect(h.newFiles(h.maildir("sender", "example.org")).isEmpty)
            #expect(try h.spool.load(id).delayNoticeSentAt == nil)
        }
    }
}

/// The bounce stage on its own, with the spool's accept replaceable.
@Suite("The bounce stage")
struct NoticeStageTests {
    static let now = Date(timeIntervalSince1970: 1_795_440_001)

    struct DiskFull: Error {}

    func failedEntry(_ h: Harness) throws -> SpoolEntry {
        let id = try h.accept(["gone@example.com", "alice@example.com"])
        var entry = try h.spool.load(id)
        entry.recipients[0].state = .failed(reply: DeliveryError.userUnknown("gone@example.com").reply, at: Self.now,
                                            bounce: .owed)
        entry.recipients[1].state = .delivered(at: Self.now, detail: "maildir x")
        return entry
    }

    @Test("When the bounce cannot be queued the obligation stays, and is retried after the error interval")
    func acceptFails() throws {
        let h = try Harness(router: TableRouter())
        var entry = try failedEntry(h)
        let outcome = Notices.send(for: &entry, now: Self.now, spool: h.spool, configuration: h.configuration,
                                   enqueue: { _, _, _, _, _ in throw DiskFull() })
        #expect(outcome.queued.isEmpty)
        #expect(!outcome.changed)
        #expect(outcome.failures.count == 1)
        guard case .failed(_, _, .owed) = entry.recipients[0].state else {
            Issue.record("expected owed, got \(entry.recipients[0].state)")
            return
        }
        #expect(!entry.isComplete)
        #expect(Settlement.nextDue(entry, now: Self.now, notAttemptedInterval: .seconds(3600), noticeRetry: .seconds(60))
            == Self.now.addingTimeInterval(60))
        #expect(Settlement.nextDue(entry, now: Self.now, notAttemptedInterval: .seconds(3600)) == Self.now)

        let again = Notices.send(for: &entry, now: Self.now, spool: h.spool, configuration: h.configuration)
        #expect(again.queued.count == 1)
        #expect(again.changed)
        #expect(entry.recipients[0].state == .failed(reply: DeliveryError.userUnknown("gone@example.com").reply,
                                                     at: Self.now, bounce: .sent(at: Self.now)))
        #expect(entry.isComplete)

        let notice = try h.spool.load(try #require(again.queued.first))
        #expect(notice.envelope.sender == .null)
        #expect(notice.envelope.recipients == [EnvelopeRecipient(mailbox: Sample.mailbox("sender@example.org"))])
        #expect(notice.origin.role == MessageOrigin.deliveryNoticeRole)
        #expect(notice.envelope.body == .sevenBit)
        let bytes = try h.spool.openMessage(notice.id).readAll()
        #expect(String(decoding: bytes, as: UTF8.self).contains("Message-ID: <\(notice.id)@mx.example.com>\r\n"))
    }

    @Test("All recipients owed a bounce share one notice, with their ORCPT and the ENVID")
    func oneNoticeForAll() throws {
        let h = try Harness(router: TableRouter())
        let envelope = Envelope(sender: .mailbox(Sample.mailbox("sender@example.org")),
                                recipients: [EnvelopeRecipient(mailbox: Sample.mailbox("a@example.com"),
                                                               originalRecipient: OriginalRecipient(addressType: "rfc822",
                                                                                                    address: "list@example.com")),
                                             EnvelopeRecipient(mailbox: Sample.mailbox("b@example.com"))],
                                body: .eightBitMIME, dsnReturn: .headers, envelopeID: "abc 123")
        let id = try h.spool.accept(envelope: envelope, origin: Sample.origin, message: Sample.message)
        var entry = try h.spool.load(id)
        for i in 0..<2 {
            entry.recipients[i].state = .failed(reply: SpoolReply(code: 550, enhancedStatus: "5.1.1", text: "no",
                                                                   remoteMTA: "mx.example.com"),
                                                at: Self.now, bounce: .owed)
        }
        let outcome = Notices.send(for: &entry, now: Self.now, spool: h.spool, configuration: h.configuration)
        #expect(outcome.queued.count == 1)
        let bytes = try h.spool.openMessage(try #require(outcome.queued.first)).readAll()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("Original-Envelope-Id: abc+20123\r\n"))
        #expect(text.contains("Original-Recipient: rfc822;list@example.com\r\nFinal-Recipient: rfc822;a@example.com\r\n"))
        #expect(text.contains("Final-Recipient: rfc822;b@example.com\r\n"))
        #expect(text.contains("Remote-MTA: dns; mx.example.com\r\n"))
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n"))
    }

    @Test("A delay notice falls due at arrival + delayWarning, once, for recipients that allow it")
    func delayDue() throws {
        let h = try Harness(router: TableRouter()) { $0.delayWarning = .seconds(4 * 3600) }
        let id = try h.accept(["slow@example.com"])
        var entry = try h.spool.load(id)
        let arrived = entry.arrivedAt
        entry.recipients[0].state = .deferred(attempts: 3, lastError: SpoolReply(code: 451, enhancedStatus: "4.4.1",
                                                                                   text: "timed out"),
                                              nextAttempt: arrived.addingTimeInterval(5 * 3600))
        let due = arrived.addingTimeInterval(4 * 3600)
        #expect(Notices.delayNoticeDue(entry, after: .seconds(4 * 3600)) == due)
        #expect(Settlement.nextDue(entry, now: arrived.addingTimeInterval(60), notAttemptedInterval: .seconds(3600),
                                   delayWarning: .seconds(4 * 3600)) == due)
        // Not yet due: nothing sent.
        var early = Notices.send(for: &entry, now: due.addingTimeInterval(-1), spool: h.spool, configuration: h.configuration)
        #expect(early.queued.isEmpty && !early.changed)
        let sent = Notices.send(for: &entry, now: due, spool: h.spool, configuration: h.configuration)
        #expect(sent.queued.count == 1)
        #expect(entry.delayNoticeSentAt == due)
        early = Notices.send(for: &entry, now: due.addingTimeInterval(3600), spool: h.spool, configuration: h.configuration)
        #expect(early.queued.isEmpty)
        #expect(Settlement.nextDue(entry, now: due, notAttemptedInterval: .seconds(3600), delayWarning: .seconds(4 * 3600))
            == arrived.addingTimeInterval(5 * 3600))
    }
}

@Suite("Bounces owed across a restart", .timeLimit(.minutes(2)))
struct NoticeRecoveryTests {
    @Test("A bounce still owed when the scheduler starts (say, the disk was full) is queued and delivered")
    func owedAtStart() async throws {
        let h = try Harness(router: TableRouter(NoticeSchedulerTests.localSender))
        let id = try h.accept(["gone@example.com"])
        var entry = try h.spool.load(id)
        entry.recipients[0].state = .failed(reply: DeliveryError.userUnknown("gone@example.com").reply,
                                            at: Date(), bounce: .owed)
        try h.spool.update(entry)
        let mailbox = h.maildir("sender", "example.org")
        try await h.withScheduler { _, events in
            try await events.waitUntil { _ in
                events.completed(id) && h.newFiles(mailbox).count == 1 && fileNames(h.dir.path + "/spool/env").isEmpty
            }
        }
        let bounce = String(decoding: try #require(h.newFiles(mailbox).first), as: UTF8.self)
        #expect(bounce.contains("Final-Recipient: rfc822;gone@example.com\nAction: failed\nStatus: 5.1.1\n"))
    }
}
