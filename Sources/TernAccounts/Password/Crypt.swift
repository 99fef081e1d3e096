import CCrypt
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, thread-safe wrappers around libxcrypt (crypt(5)).
///
/// Every call gets its own heap-allocated `struct crypt_data` (32 KiB, too big
/// for a thread's stack to be a good idea), zeroed before use as crypt_r(3)
/// requires and zeroed again before it is freed, since it held the password.
enum Crypt {
    /// Output of `crypt_r`, or nil when the library refused the setting (an
    /// unknown or malformed hash, or a failure token `*0` / `*1`).
    static func hash(password: String, setting: String) -> String? {
        let data = UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<crypt_data>.size, alignment: MemoryLayout<crypt_data>.alignment)
        memset(data, 0, MemoryLayout<crypt_data>.size)
        defer {
            memset(data, 0, MemoryLayout<crypt_data>.size)
            data.deallocate()
        }
        let typed = data.bindMemory(to: crypt_data.self, capacity: 1)
        guard let result = crypt_r(password, setting, typed) else { return nil }
        let output = String(cString: result)
        // libxcrypt signals failure with a string starting with "*" (crypt(3), RETURN VALUE).
        guard !output.hasPrefix("*") else { return nil }
        return output
    }

    /// A new setting (`$y$j9T$<salt>`) for `prefix` with the library's default
    /// cost and a salt from the operating system's random source.
    static func generateSetting(prefix: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        let count = Int32(buffer.count)
        let ok = buffer.withUnsafeMutableBufferPointer { out -> Bool in
            crypt_gensalt_rn(prefix, 0, nil, 0, out.baseAddress, count) != nil
        }
        guard ok else { return nil }
        let setting = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return setting.hasPrefix("*") || setting.isEmpty ? nil : setting
    }

    /// Compares two byte strings in time that depends only on their lengths,
    /// not on where they first differ.
    static func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        let left = Array(a)
        let right = Array(b)
        var difference = UInt8(truncatingIfNeeded: left.count ^ right.count)
        if left.count != right.count { difference |= 1 }
        let n = max(left.count, right.count)
        for i in 0..<n {
            let x = i < left.count ? left[i] : 0
            let y = i < right.count ? right[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
