import Foundation

/// SASL PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login) over SMTP AUTH (RFC 4954).
enum AuthExchange: Sendable {
    case plain
    case loginUsername
    case loginPassword(username: String)
}

extension ServerSession {
    mutating func startAuth(mechanism: String, initialResponse: String?, into actions: inout [SessionAction]) {
        guard configuration.offersAuth else {
            reply(Replies.authNotAvailable, into: &actions)
            return
        }
        switch state {
        case .greeting:
            reply(Replies.needHelo, into: &actions)
            return
        case .transaction:
            reply(Replies.authInTransaction, into: &actions)
            return
        default:
            break
        }
        guard tls != nil else {
            reply(Replies.encryptionRequiredForAuth, into: &actions)
            return
        }
        guard authenticatedUser == nil else {
            reply(Replies.alreadyAuthenticated, into: &actions)
            return
        }
        switch mechanism {
        case "PLAIN":
            if let initialResponse {
                continueAuth(.plain, line: Array(initialResponse.utf8), into: &actions)
            } else {
                state = .authenticating(.plain)
                actions.append(.send(Replies.authChallenge("")))
            }
        case "LOGIN":
            if let initialResponse {
                continueAuth(.loginUsername, line: Array(initialResponse.utf8), into: &actions)
            } else {
                state = .authenticating(.loginUsername)
                actions.append(.send(Replies.authChallenge("VXNlcm5hbWU6")))  // "Username:"
            }
        default:
            reply(Replies.unknownMechanism, into: &actions)
        }
    }

    mutating func continueAuth(_ exchange: AuthExchange, line: [UInt8], into actions: inout [SessionAction]) {
        if line == [UInt8(ascii: "*")] {
            state = .ready
            reply(Replies.authCancelled, into: &actions)
            return
        }
        // "=" is an empty initial response (RFC 4954 §4).
        let text = line == [UInt8(ascii: "=")] ? "" : String(decoding: line, as: UTF8.self)
        guard let decoded = Data(base64Encoded: text).map([UInt8].init) else {
            state = .ready
            reply(Replies.authBadEncoding, into: &actions)
            return
        }
        switch exchange {
        case .plain:
            // message = [authzid] NUL authcid NUL passwd (RFC 4616 §2)
            let parts = decoded.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3,
                  let authzid = String(validating: parts[0], as: UTF8.self),
                  let authcid = String(validating: parts[1], as: UTF8.self),
                  let password = String(validating: parts[2], as: UTF8.self),
                  !authcid.isEmpty else {
                state = .ready
                reply(Replies.authBadEncoding, into: &actions)
                return
            }
            askCredentials(AuthRequest(mechanism: "PLAIN", authorizationID: authzid, username: authcid, password: password),
                           into: &actions)
        case .loginUsername:
            guard let username = String(validating: decoded, as: UTF8.self), !username.isEmpty,
                  !username.utf8.contains(0) else {
                state = .ready
                reply(Replies.authBadEncoding, into: &actions)
                return
            }
            state = .authenticating(.loginPassword(username: username))
            actions.append(.send(Replies.authChallenge("UGFzc3dvcmQ6")))  // "Password:"
        case .loginPassword(let username):
            guard let password = String(validating: decoded, as: UTF8.self), !password.utf8.contains(0) else {
                state = .ready
                reply(Replies.authBadEncoding, into: &actions)
                return
            }
            askCredentials(AuthRequest(mechanism: "LOGIN", authorizationID: "", username: username, password: password),
                           into: &actions)
        }
    }

    /// The owner checks the credentials, and also refuses an authorization
    /// identity other than the authenticated one (RFC 4616 §2), so that every
    /// failure is counted in one place.
    mutating func askCredentials(_ request: AuthRequest, into actions: inout [SessionAction]) {
        state = .waiting(.authentication)
        actions.append(.authenticate(request))
    }
}
