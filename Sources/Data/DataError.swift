/// A problem with a dataset on disk or on the wire: names the file and says what is wrong.
public struct DataError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file, folder, archive member or URL the problem is in.
    public let path: String
    /// What is wrong with it, in a phrase ("wrong IDX magic number 0x00000802, expected 0x00000803").
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { path.isEmpty ? problem : "\(path): \(problem)" }
}
