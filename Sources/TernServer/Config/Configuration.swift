import Logging
import TernSMTP

/// Tern's settings, decoded from one TOML file (see `etc/tern.toml`).
///
/// Plain values only: every path is absolute (relative paths in the file are
/// resolved against the file's folder), every address is parsed, every
/// duration and size converted. Nothing here has touched the filesystem or
/// the network: whether a certificate is readable or a port is free is
/// checked at startup by the part that uses it.
///
/// Each property names its TOML key and its default; `etc/tern.toml` shows
/// the same defaults.
public struct Configuration: Sendable, Equatable {
    /// `hostname`: the name used in EHLO, Received fields, the
    /// Authentication-Results authserv-id and bounces. Default: the machine's
    /// hostname (gethostname(2)), which must then be a valid domain.
    public var hostname: Domain
    /// `domains`: the local domains, whose mail is delivered to Maildirs here.
    /// Default: none — at least one is required.
    public var domains: [Domain]
    /// `state_dir`: where the spool (`spool/`) and generated files live.
    /// Default: `"/var/lib/tern"`.
    public var stateDirectory: String
    /// `user`: the Unix user `tern serve` runs as once it has done what
    /// needs root — bound the listeners, read the certificate, keys and
    /// accounts, and given the state directory to this user. Only root can
    /// switch users; started as this user already, nothing changes.
    /// Default: `nil` (`""`): stay as started. As root that keeps per-user
    /// mail stores possible (each Maildir written as its owner, see
    /// `MailboxOwners`); with a user, every Maildir is this user's, so the
    /// `[mailbox] maildir` tree must be writable by it. After the switch
    /// the files read again on reload (configuration, users, aliases, DKIM
    /// keys, certificate) must be readable by this user, and
    /// `[metrics] address` needs a port above 1023.
    public var user: String?
    /// `[[listener]]`: the sockets to accept SMTP on. Default: none — at least
    /// one is required.
    public var listeners: [Listener]
    /// `[tls]`: the certificate and key for STARTTLS and implicit TLS.
    /// Default: `nil` (both keys `""`): no TLS; only `mx` listeners are then
    /// allowed, without STARTTLS. The minimum version is TLS 1.2, fixed.
    public var tls: TLS?
    /// `[accounts]`: users, aliases and sub-addressing.
    public var accounts: Accounts
    /// `[mailbox]`: where local mail is stored.
    public var mailbox: MailboxStorage
    /// `[dns]`: which nameservers to ask.
    public var dns: DNS
    /// `[delivery]`: how mail leaves this host.
    public var delivery: Delivery
    /// `[checks]`: SPF and DMARC on mail that arrives on port 25.
    public var checks = Checks()
    /// `[sendmail]`: `tern sendmail` for local programs.
    public var sendmail = Sendmail()
    /// `[routes]`: recipient domain (lower-case ASCII) → `"relay"` or
    /// `"direct"`; domains not listed go through the relay when one is set.
    public var routes: [String: String] = [:]
    /// `[dkim]`: signing keys.
    public var dkim: DKIM
    /// `[limits]`: sizes and counts that protect the server.
    public var limits: Limits
    /// `[timeouts]`: how long to wait for a client (RFC 5321 §4.5.3.2).
    public var timeouts: Timeouts
    /// `[metrics]`: the Prometheus endpoint.
    public var metrics: Metrics
    /// `[log]`: logging.
    public var log: Log
    /// `[check]`: what `tern check` probes.
    public var check = CheckSettings()

    /// A configuration with the given identity and listeners and every other
    /// setting at its default.
    public init(hostname: Domain, domains: [Domain], listeners: [Listener]) {
        self.hostname = hostname
        self.domains = domains
        self.stateDirectory = Self.defaultStateDirectory
        self.listeners = listeners
        self.tls = nil
        self.accounts = Accounts()
        self.mailbox = MailboxStorage()
        self.dns = DNS()
        self.delivery = Delivery()
        self.dkim = DKIM()
        self.limits = Limits()
        self.timeouts = Timeouts()
        self.metrics = Metrics()
        self.log = Log()
    }

    /// The default `state_dir`.
    public static let defaultStateDirectory = "/var/lib/tern"

    /// One `[[listener]]`.
    public struct Listener: Sendable, Equatable {
        /// What a listener is for, and so what it offers and demands.
        public enum Role: String, Sendable, CaseIterable {
            /// Port 25: mail from other MTAs to local domains; STARTTLS
            /// offered when TLS is configured; no AUTH.
            case mx
            /// Port 587 (RFC 6409): authenticated submission after STARTTLS.
            case submission
            /// Port 465 (RFC 8314): authenticated submission over implicit TLS.
            case submissions

            /// Whether this role needs `[tls]`.
            public var requiresTLS: Bool { self != .mx }
        }

        /// `address`: `"0.0.0.0:25"` or `"[::]:25"`; an IP literal, port
        /// 1–65535 (0 = ephemeral, for tests). No default: required.
        public var address: Endpoint
        /// `role`: `mx`, `submission` or `submissions`. Default: `mx`.
        public var role: Role
        /// `proxy_protocol`: expect a PROXY protocol header (reserved for
        /// running behind a load balancer). Default: `false`.
        public var proxyProtocol: Bool

        public init(address: Endpoint, role: Role = .mx, proxyProtocol: Bool = false) {
            self.address = address
            self.role = role
            self.proxyProtocol = proxyProtocol
        }
    }

    /// `[tls]`: present only when both files are named.
    public struct TLS: Sendable, Equatable {
        /// `certificate`: PEM certificate chain, absolute. Default: `""` (no TLS).
        public var certificate: String
        /// `private_key`: PEM private key, absolute. Default: `""` (no TLS).
        public var privateKey: String

        public init(certificate: String, privateKey: String) {
            self.certificate = certificate
            self.privateKey = privateKey
        }
    }

    /// `[accounts]`.
    public struct Accounts: Sendable, Equatable {
        /// `users`: the passwd-file (Dovecot format). Default: `"/etc/tern/users"`.
        public var users: String = "/etc/tern/users"
        /// `aliases`: the aliases file (/etc/aliases format); `nil` when set
        /// to `""`. Default: `"/etc/tern/aliases"`.
        public var aliases: String? = "/etc/tern/aliases"
        /// `subaddress_separator`: characters that separate a user from a
        /// sub-address (`alice+news@`); each character is a separator; `""`
        /// turns sub-addressing off. Default: `"+"`.
        public var subaddressSeparator: String = "+"

        public init() {}
    }

    /// `[mailbox]`.
    public struct MailboxStorage: Sendable, Equatable {
        /// `maildir`: where a local user's Maildir is, absolute; `{domain}` and
        /// `{user}` are replaced (`{user}` is required). Default:
        /// `"/var/mail/{domain}/{user}/Maildir"`.
        public var maildir: String = "/var/mail/{domain}/{user}/Maildir"

        public init() {}
    }

    /// `[dns]`.
    public struct DNS: Sendable, Equatable {
        /// `nameservers`: `"ip"`, `"ip:port"` or `"[v6]:port"` (port 53 when
        /// left out); empty = the nameservers in /etc/resolv.conf. Default: `[]`.
        public var nameservers: [Endpoint] = []
        /// `reverse_lookup`: look up each client's name (PTR, confirmed by
        /// its A/AAAA) for the Received field; a message waits for the
        /// answer at most 2 s. Default: `true`.
        public var reverseLookup = true

        public init() {}
    }

    /// `[delivery]`.
    public struct Delivery: Sendable, Equatable {
        /// `source_address`: the IP address outgoing connections come from;
        /// `nil` (`""`) = the kernel's choice. Default: `""`.
        public var sourceAddress: String?
        /// `mx_port`: the port of remote MX hosts (tests change it). Default: `25`.
        public var mxPort: Int = 25
        /// `address_order`: `"ipv4-first"`, `"ipv6-first"`, `"ipv4-only"` or
        /// `"ipv6-only"`: which addresses of an MX host are tried first.
        /// Default: `"ipv4-first"` (a VPS's IPv6 often lacks the reverse DNS
        /// big receivers insist on).
        public var addressOrder: String = "ipv4-first"
        /// `relay`, `relay_username`, `relay_password_file`: send all remote
        /// mail through this host instead of to the MX. Default: `nil` (`""`).
        public var relay: Relay?
        /// `retry_min`: the wait after a first temporary failure; it doubles
        /// with each further one (with jitter). Default: `"1m"`.
        public var retryMin: Duration = .seconds(60)
        /// `retry_max`: the longest wait between two attempts. Default: `"1h"`.
        public var retryMax: Duration = .seconds(3_600)
        /// `queue_lifetime`: how long to keep retrying before bouncing.
        /// Default: `"5d"`.
        public var queueLifetime: Duration = .seconds(5 * 86_400)
        /// `delay_warning`: when to tell the sender that a message is still
        /// queued (RFC 3464 delayed DSN); `nil` (`"0"`) = never. Must be
        /// shorter than `queue_lifetime`. Default: `"4h"`.
        public var delayWarning: Duration? = .seconds(4 * 3_600)
        /// `capture`: a Maildir that receives all outbound mail instead of
        /// sending it (for trials and tests); `nil` (`""`) = send. Default: `""`.
        public var capture: String?

        public init() {}
    }

    /// `[sendmail]`: local programs handing mail to `tern sendmail`.
    public struct Sendmail: Sendable, Equatable {
        /// `trusted_users`: Unix users (besides root and the server's own
        /// user) whose `-f` sets the envelope sender; everyone else sends
        /// as `name@hostname`. Default: `[]`.
        public var trustedUsers: [String] = []

        public init() {}
    }

    /// `[checks]`.
    public struct Checks: Sendable, Equatable {
        /// `spf`: `"off"`, `"annotate"` (Received-SPF and
        /// Authentication-Results only; DMARC decides) or `"reject"`
        /// (also `550 5.7.23` on fail, `451 4.7.24` on temperror).
        /// Default: `"annotate"`.
        public var spf: SPFPolicy = .annotate
        /// `dkim`: `"off"` or `"verify"` (every signature, into
        /// Authentication-Results and DMARC). Default: `"verify"`.
        public var dkim: DKIMPolicy = .verify
        /// `dmarc`: `"off"`, `"annotate"` (Authentication-Results only) or
        /// `"enforce"` (the domain's policy: `p=reject` → `550 5.7.1` at the
        /// end of DATA, `p=quarantine` → the recipients' Junk folder).
        /// Default: `"enforce"`.
        public var dmarc: DMARCPolicy = .enforce

        public enum SPFPolicy: String, Sendable, Equatable, CaseIterable {
            case off, annotate, reject
        }

        public enum DMARCPolicy: String, Sendable, Equatable, CaseIterable {
            case off, annotate, enforce
        }

        public enum DKIMPolicy: String, Sendable, Equatable, CaseIterable {
            case off, verify
        }

        public init() {}
    }

    /// The relay host of `[delivery]`.
    public struct Relay: Sendable, Equatable {
        /// A domain name or an IP address (IPv6 without brackets).
        public var host: String
        /// 1–65535: 465 means implicit TLS, anything else STARTTLS.
        public var port: Int
        /// `relay_username`; `nil` (`""`) = no AUTH. Default: `""`.
        public var username: String?
        /// `relay_password_file`: a file holding the password, absolute; set
        /// exactly when `username` is. Default: `""`.
        public var passwordFile: String?
        /// `relay_ca_file`: PEM certificates of the authorities to trust for
        /// the relay's certificate; `nil` (`""`) = the system's. Default: `""`.
        public var caFile: String?

        public init(host: String, port: Int, username: String? = nil, passwordFile: String? = nil) {
            self.host = host
            self.port = port
            self.username = username
            self.passwordFile = passwordFile
        }

        /// RFC 8314 §3.3: port 465 speaks TLS from the first byte.
        public var usesImplicitTLS: Bool { port == 465 }
    }

    /// `[dkim]`.
    public struct DKIM: Sendable, Equatable {
        /// `keys`: folder of signing keys, `<domain>/<selector>.key`, absolute.
        /// Default: `"/etc/tern/dkim"`.
        public var keys: String = "/etc/tern/dkim"

        public init() {}
    }

    /// `[limits]`. Sizes accept `"50MiB"`, `"10MB"`, `"512KiB"` or bytes.
    public struct Limits: Sendable, Equatable {
        /// `message_size`: the largest message accepted, in bytes (the SIZE
        /// extension, RFC 1870). Default: `"50MiB"` (52,428,800).
        public var messageSize: Int = 50 * 1_048_576
        /// `recipients`: RCPT TO per transaction (RFC 5321 §4.5.3.1.8 asks for
        /// at least 100). Default: `100`.
        public var recipients: Int = 100
        /// `connections`: simultaneous inbound connections in total.
        /// Default: `1000`.
        public var connections: Int = 1_000
        /// `connections_per_ip`: simultaneous inbound connections from one
        /// client address. Default: `20`.
        public var connectionsPerIP: Int = 20
        /// `errors`: bad commands in one session before `421`. Default: `20`.
        public var errors: Int = 20
        /// `auth_failures`: failed AUTH attempts from one client address
        /// within `auth_failure_window` before `421`. Default: `5`.
        public var authFailures: Int = 5
        /// `auth_failure_window`: the sliding window for `auth_failures`.
        /// Default: `"15m"`.
        public var authFailureWindow: Duration = .seconds(15 * 60)
        /// `received_headers`: Received fields that mark a mail loop
        /// (`554 5.4.6`, RFC 5321 §6.3). Default: `50`.
        public var receivedHeaders: Int = 50

        public init() {}
    }

    /// `[timeouts]`: server-side defaults from RFC 5321 §4.5.3.2.
    public struct Timeouts: Sendable, Equatable {
        /// `command`: waiting for the next command. Default: `"5m"`.
        public var command: Duration = .seconds(5 * 60)
        /// `data_block`: waiting for the next chunk of DATA or BDAT.
        /// Default: `"3m"`.
        public var dataBlock: Duration = .seconds(3 * 60)
        /// `data_total`: a whole DATA or BDAT transfer. Default: `"10m"`.
        public var dataTotal: Duration = .seconds(10 * 60)

        public init() {}
    }

    /// `[metrics]`.
    public struct Metrics: Sendable, Equatable {
        /// `address`: where to serve Prometheus metrics, e.g.
        /// `"127.0.0.1:9325"`; `nil` (`""`) = off. Default: `""`.
        public var address: Endpoint?

        public init() {}
    }

    /// `[check]`: the outbound port 25 test of `tern check`.
    public struct CheckSettings: Sendable, Equatable {
        /// `probe_domains`: domains whose MX hosts `tern check` connects to
        /// on `[delivery] mx_port` to learn whether outbound port 25 is
        /// open; `[]` skips the test. Default:
        /// `["gmail.com", "outlook.com", "yahoo.com"]`.
        public var probeDomains: [Domain] = CheckSettings.defaultProbeDomains
        /// `probe_timeout`: how long one connection attempt may take before
        /// it counts as silently dropped. Default: `"10s"`.
        public var probeTimeout: Duration = .seconds(10)

        /// Large providers whose MX hosts always answer on port 25.
        public static let defaultProbeDomains: [Domain] = ["gmail.com", "outlook.com", "yahoo.com"].compactMap {
            try? Domain(parsing: $0)
        }

        public init() {}
    }

    /// `[log]`.
    public struct Log: Sendable, Equatable {
        /// `level`: trace, debug, info, notice, warning, error or critical.
        /// Default: `"info"`.
        public var level: Logger.Level = .info
        /// `file`: an extra log file, absolute; `nil` (`""`) = none.
        /// Default: `""`.
        public var file: String?

        public init() {}
    }
}
