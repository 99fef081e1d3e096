/// "Did you mean …?" for unknown configuration keys.
enum KeySuggestion {
    /// The known key closest to `unknown`, when it is close enough to be a
    /// likely typo: at most 2 edits, and fewer edits than half its length.
    static func closest(to unknown: String, among known: [String]) -> String? {
        var best: (key: String, distance: Int)?
        for candidate in known {
            let d = distance(unknown.lowercased(), candidate)
            if d <= 2, d * 2 < max(candidate.count, 1), d < (best?.distance ?? Int.max) {
                best = (candidate, d)
            }
        }
        return best?.key
    }

    /// Optimal string alignment distance (Levenshtein plus adjacent
    /// transpositions), over Unicode scalars.
    static func distance(_ a: String, _ b: String) -> Int {
        let s = Array(a.unicodeScalars)
        let t = Array(b.unicodeScalars)
        if s.isEmpty { return t.count }
        if t.isEmpty { return s.count }
        var previous2 = [Int](repeating: 0, count: t.count + 1)
        var previous = Array(0...t.count)
        var current = [Int](repeating: 0, count: t.count + 1)
        for i in 1...s.count {
            current[0] = i
            for j in 1...t.count {
                let cost = s[i - 1] == t[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, s[i - 1] == t[j - 2], s[i - 2] == t[j - 1] {
                    value = min(value, previous2[j - 2] + 1)
                }
                current[j] = value
            }
            previous2 = previous
            previous = current
        }
        return previous[t.count]
    }
}
