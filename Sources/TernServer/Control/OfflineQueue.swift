import Foundation
import TernDelivery
import TernSpool

/// `tern queue …` while the server is stopped: the same requests, answered
/// on the spool directly under the state directory's lock (so the server
/// cannot start meanwhile). Changes take effect when the server starts:
/// its recovery schedules what they left due.
public enum OfflineQueue {
    /// Asks the running server; when none runs, answers on the spool.
    public static func ask(_ request: ControlRequest, stateDirectory: String) throws -> ControlResponse {
        let sent = Result { () throws(ControlClient.Failure) in
            try ControlClient(stateDirectory: stateDirectory).send(request)
        }
        switch sent {
        case .success(let response): return response
        case .failure(.notRunning): return try handle(request, stateDirectory: stateDirectory)
        case .failure(let failure): throw failure
        }
    }

    public static func handle(_ request: ControlRequest, stateDirectory: String) throws -> ControlResponse {
        guard FileManager.default.fileExists(atPath: stateDirectory + "/spool") else {
            return ControlResponse(error: "no spool in \(stateDirectory) (has the server ever run with this configuration?)")
        }
        let lock: StateLock
        do {
            lock = try StateLock(stateDirectory: stateDirectory)
        } catch {
            return ControlResponse(error: "\(error)")
        }
        defer { withExtendedLifetime(lock) {} }
        let spool = try Spool(directory: stateDirectory + "/spool")
        do {
            var response = ControlResponse()
            switch request.command {
            case .list:
                response.listing = try QueueAdministration.list(spool)
            case .show:
                guard let text = request.id, let id = QueueID(text) else {
                    return ControlResponse(error: "\(ControlService.NotAQueueID(text: request.id ?? ""))")
                }
                response.entry = try QueueAdministration.show(id, spool: spool)
            case .change:
                guard let change = request.change, let target = request.target else {
                    return ControlResponse(error: "a change needs what to do and to which messages")
                }
                var changes: [String: QueueChangeResult] = [:]
                for id in try ControlService.select(target, in: spool) {
                    changes[id.text] = try QueueAdministration.apply(change, to: id, spool: spool).result
                }
                response.changes = changes
            case .submit, .reload:
                return ControlResponse(error: "the server is not running")
            }
            return response
        } catch SpoolError.notFound(let id) {
            return ControlResponse(error: "no message \(id) in the queue")
        }
    }
}

/// `tern queue list` and `show` for people.
public enum QueueTable {
    public static func render(_ listing: QueueListing, now: Date) -> String {
        guard !listing.entries.isEmpty else { return "Mail queue is empty\n" }
        var out = "-Queue ID-           --Size-- ----Age---- Sender/Recipient-------\n"
        var bytes = 0
        for entry in listing.entries {
            bytes += entry.size
            let id = entry.id + (entry.held ? "!" : "")
            out += pad(id, 21) + pad(String(entry.size), 8, right: true) + " " + pad(age(now.timeIntervalSince(entry.arrivedAt)), 11, right: true)
                + " " + entry.sender + "\n"
            for r in entry.recipients where r.state != "delivered" {
                if let error = r.lastError { out += String(repeating: " ", count: 42) + "(\(r.state): \(error))\n" }
                out += String(repeating: " ", count: 42) + r.address + (r.lastError == nil ? " (\(r.state))" : "") + "\n"
            }
            out += "\n"
        }
        out += "-- \(bytes / 1024) Kbytes in \(listing.entries.count) Request\(listing.entries.count == 1 ? "" : "s").\n"
        return out
    }

    public static func render(_ entry: QueueListing.Entry) -> String {
        var out = "Queue ID:  \(entry.id)\(entry.held ? " (held)" : "")\n"
        out += "Arrived:   \(entry.arrivedAt.formatted(.iso8601))\n"
        out += "Size:      \(entry.size) bytes\n"
        if let origin = entry.origin { out += "Origin:    \(origin)\n" }
        out += "Sender:    \(entry.sender)\n"
        out += "Recipients:\n"
        for r in entry.recipients {
            out += "  \(r.address): \(r.state)"
            if r.attempts > 0 { out += ", \(r.attempts) attempt\(r.attempts == 1 ? "" : "s")" }
            if let next = r.nextAttempt { out += ", next \(next.formatted(.iso8601))" }
            out += "\n"
            if let error = r.lastError { out += "    \(error)\n" }
        }
        if let history = entry.history, !history.isEmpty {
            out += "History:\n" + history.map { "  \($0)\n" }.joined()
        }
        if let headers = entry.headers {
            out += "Headers:\n" + headers.replacingOccurrences(of: "\r\n", with: "\n")
        }
        return out
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        guard s.count < width else { return s + " " }
        let fill = String(repeating: " ", count: width - s.count)
        return right ? fill + s : s + fill
    }

    static func age(_ seconds: TimeInterval) -> String {
        let s = max(0, Int(seconds))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h\(s % 3600 / 60)m" }
        return "\(s / 86400)d\(s % 86400 / 3600)h"
    }
}
