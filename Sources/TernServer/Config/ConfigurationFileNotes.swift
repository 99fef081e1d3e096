import Foundation

// For `tern config check`: the files a valid configuration names that are
// not there. Decoding never touches the filesystem (the part that uses a
// file checks it at startup); this looks, without opening anything:
// existence and readability only, so a password file's content is never
// read.

extension Configuration {
    /// One sentence per named file or folder that is missing or unreadable
    /// by this user, e.g. `'tls.certificate' /etc/…/fullchain.pem: no such file`.
    public var fileNotes: [String] {
        var notes: [String] = []
        let fm = FileManager.default
        func look(_ key: String, _ path: String?, directory: Bool = false, consequence: String = "") {
            guard let path else { return }
            var isDirectory: ObjCBool = false
            let suffix = consequence.isEmpty ? "" : " (\(consequence))"
            if !fm.fileExists(atPath: path, isDirectory: &isDirectory) {
                notes.append("'\(key)' \(path): no such \(directory ? "folder" : "file")\(suffix)")
            } else if isDirectory.boolValue != directory {
                notes.append("'\(key)' \(path): is \(directory ? "not a folder" : "a folder")")
            } else if !fm.isReadableFile(atPath: path) {
                notes.append("'\(key)' \(path): cannot be read by this user")
            }
        }
        look("tls.certificate", tls?.certificate)
        look("tls.private_key", tls?.privateKey)
        look("accounts.users", accounts.users)
        look("accounts.aliases", accounts.aliases)
        look("delivery.relay_password_file", delivery.relay?.passwordFile)
        look("delivery.relay_ca_file", delivery.relay?.caFile)
        look("dkim.keys", dkim.keys, directory: true, consequence: "no mail is DKIM-signed")
        return notes
    }
}
