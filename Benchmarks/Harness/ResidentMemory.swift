import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The process's resident memory from `/proc/self/status` (Linux; nil where it is missing).
public enum ResidentMemory {
    /// Resets the peak (`VmHWM`) to the current resident size, after handing freed heap memory
    /// back to the system (`malloc_trim`), so that a later `peakMB` is this part's peak. False
    /// where the kernel does not allow it.
    @discardableResult
    public static func resetPeak() -> Bool {
        #if canImport(Glibc)
        // glibc's malloc_trim (in <malloc.h>, which the Glibc module leaves out).
        if let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") {
            _ = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)(0)
        }
        #endif
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        do { try handle.write(contentsOf: Data("5".utf8)) } catch { return false }
        return true
    }

    /// Peak resident memory (`VmHWM`) in MB (10^6 bytes).
    public static func peakMB() -> Double? { field("VmHWM:") }

    /// Current resident memory (`VmRSS`) in MB (10^6 bytes).
    public static func currentMB() -> Double? { field("VmRSS:") }

    private static func field(_ key: String) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 3, parts[2] == "kB", let kb = Double(parts[1]) else { return nil }
            return kb * 1024 / 1e6
        }
        return nil
    }
}
