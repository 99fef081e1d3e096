/// What a listener's sessions need to know. Every limit has a documented default.
public struct SessionConfiguration: Sendable {
    /// The listener's job (DESIGN "Roles and policy").
    public enum Role: String, Sendable, CaseIterable {
        /// Port 25: anyone may deliver to local domains; AUTH is not offered.
        case mx
        /// Port 587: STARTTLS then AUTH, then MAIL (RFC 6409).
        case submission
        /// Port 465: implicit TLS, AUTH required (RFC 8314).
        case submissions
    }

    /// Name used in the greeting, EHLO reply and Received fields.
    public var hostname: String
    public var role: Role
    /// STARTTLS can be offered (a certificate is configured). Default false.
    public var tlsAvailable: Bool
    /// RFC 1870 SIZE. Default 50 MiB.
    public var maximumMessageSize: Int
    /// RFC 5321 §4.5.3.1.8 asks for at least 100. Default 100.
    public var maximumRecipients: Int
    /// Error replies per session before `421` and close. Default 20.
    public var maximumErrors: Int
    /// Received fields at or above which the message is a loop (`554 5.4.6`). Default 50.
    public var maximumReceivedFields: Int
    /// Completes a bare `<Postmaster>` recipient (RFC 5321 §4.5.1).
    public var postmasterDomain: Domain

    public init(hostname: String, role: Role, tlsAvailable: Bool = false,
                maximumMessageSize: Int = 50 * 1024 * 1024, maximumRecipients: Int = 100,
                maximumErrors: Int = 20, maximumReceivedFields: Int = 50, postmasterDomain: Domain) {
        self.hostname = hostname
        self.role = role
        self.tlsAvailable = tlsAvailable
        self.maximumMessageSize = maximumMessageSize
        self.maximumRecipients = maximumRecipients
        self.maximumErrors = maximumErrors
        self.maximumReceivedFields = maximumReceivedFields
        self.postmasterDomain = postmasterDomain
    }

    /// AUTH is offered on submission ports only, and only under TLS (RFC 4954 §4, RFC 8314).
    var offersAuth: Bool { role != .mx }
    /// MAIL needs a prior successful AUTH.
    var requiresAuth: Bool { role != .mx }
}

/// The negotiated TLS parameters, for Received fields and logs.
public struct TLSInfo: Hashable, Sendable {
    public var version: String
    public var cipher: String
    public init(version: String, cipher: String) {
        self.version = version
        self.cipher = cipher
    }
}
