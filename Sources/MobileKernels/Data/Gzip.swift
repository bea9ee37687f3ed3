internal import CZlib

/// gzip (RFC 1952) decompression through zlib, for the data sets' `.gz` files.
public enum Gzip {
    /// Whether `bytes` start with gzip's magic number (1f 8b).
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// The decompressed contents of a gzip file (its members one after another, as gunzip does).
    /// - Throws: `.invalidFile` naming `name` for data that is not gzip, is corrupt (zlib's message
    ///   and the offset) or ends before its last member does.
    public static func decompress(_ bytes: [UInt8], name: String = "gzip data") throws -> [UInt8] {
        guard isGzip(bytes) else {
            throw MobileKernelsError(.invalidFile, "\(name): not gzip data (no 1f 8b magic number)")
        }
        // The last member's trailer holds its size mod 2^32: a good first guess for one member.
        var output = [UInt8]()
        if bytes.count >= 18 {
            let n = bytes.count
            let hint = Int(bytes[n - 4]) | Int(bytes[n - 3]) << 8 | Int(bytes[n - 2]) << 16 | Int(bytes[n - 1]) << 24
            // Trusted only as far as deflate can expand (1032:1): a forged trailer reserves nothing huge.
            output.reserveCapacity(min(hint, bytes.count &* 1032, 1 << 31) + 1)
        }
        var stream = z_stream()
        guard mk_inflate_init_gzip(&stream) == Z_OK else {
            throw MobileKernelsError(.outOfMemory, "\(name): zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        try bytes.withUnsafeBufferPointer { input in
            var offset = 0
            while offset < input.count {
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + offset)
                stream.avail_in = UInt32(min(input.count - offset, Int(UInt32.max)))
                let start = stream.avail_in
                var status: Int32 = Z_OK
                repeat {
                    let produced: Int = try chunk.withUnsafeMutableBufferPointer { out in
                        stream.next_out = out.baseAddress!
                        stream.avail_out = UInt32(out.count)
                        status = inflate(&stream, Z_NO_FLUSH)
                        switch status {
                        case Z_OK, Z_STREAM_END, Z_BUF_ERROR: break
                        default:
                            let detail = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                            let at = offset + Int(start - stream.avail_in)
                            throw MobileKernelsError(.invalidFile, "\(name): corrupt gzip data near byte \(at) (\(detail))")
                        }
                        return out.count - Int(stream.avail_out)
                    }
                    output.append(contentsOf: chunk[0..<produced])
                    if status == Z_BUF_ERROR && produced == 0 { break }
                } while status != Z_STREAM_END && (stream.avail_in > 0 || stream.avail_out == 0)
                offset += Int(start - stream.avail_in)
                // Out of the loop without the member's end: the input ran out inside it.
                guard status == Z_STREAM_END else { break }
                // Another member may follow (concatenated gzip files); trailing zeros are padding.
                if input[offset...].allSatisfy({ $0 == 0 }) { return }
                guard inflateReset(&stream) == Z_OK else {
                    throw MobileKernelsError(.invalidFile, "\(name): zlib could not restart after a member")
                }
            }
            throw MobileKernelsError(.invalidFile, "\(name): truncated gzip data (\(input.count) bytes end inside a compressed member)")
        }
        return output
    }
}
