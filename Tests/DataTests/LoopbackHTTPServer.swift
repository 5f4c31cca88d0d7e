import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for download tests: serves `files` by path, honours
/// `Range: bytes=N-`, can cut the connection after `cutAfter` body bytes, and logs requests.
final class LoopbackHTTPServer: Sendable {
    let port: UInt16
    private let listener: Int32
    private let files: [String: [UInt8]]
    private let cutAfter: Int?
    let requests = Mutex<[String]>([])
    private let stopped = DispatchSemaphore(value: 0)

    init(files: [String: [UInt8]], cutAfter: Int? = nil) throws {
        self.files = files
        self.cutAfter = cutAfter
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DataErrorForTests("socket failed") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else { close(fd); throw DataErrorForTests("bind/listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        listener = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var baseURL: String { "http://127.0.0.1:\(port)/" }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        stopped.wait()
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { break }
            serve(client)
            close(client)
        }
        stopped.signal()
    }

    private func serve(_ client: Int32) {
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !request.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let got = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if got <= 0 { return }
            request += chunk[0..<got]
        }
        let text = String(decoding: request, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        let path = lines[0].split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        let range = lines.first { $0.lowercased().hasPrefix("range:") }
        requests.withLock { $0.append(path + (range.map { " " + $0 } ?? "")) }
        guard let body = files[String(path.dropFirst())] else {
            send(client, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", [])
            return
        }
        var start = 0
        if let range, let value = range.split(separator: "=").last?.split(separator: "-").first, let from = Int(value) {
            start = from
        }
        if start >= body.count && start > 0 {
            send(client, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */\(body.count)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", [])
            return
        }
        var payload = Array(body[start...])
        let header: String
        if range != nil {
            header = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes \(start)-\(body.count - 1)/\(body.count)\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
        } else {
            header = "HTTP/1.1 200 OK\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
        }
        if let cutAfter, range == nil { payload = Array(payload.prefix(cutAfter)) }
        send(client, header, payload)
    }

    private func send(_ client: Int32, _ header: String, _ body: [UInt8]) {
        let bytes = Array(header.utf8) + body
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(client, $0.baseAddress.map { $0 + sent }, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}

struct DataErrorForTests: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
