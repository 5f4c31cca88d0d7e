/// Errors a public engine call throws for bad input: they name the layer and both shapes.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(layer: String, expected: String, got: [Int])
    case invalidArgument(layer: String, message: String)
    case checkpoint(file: String, message: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(layer, expected, got):
            return "\(layer): expected input \(expected), got \(shapeString(got))"
        case let .invalidArgument(layer, message):
            return "\(layer): \(message)"
        case let .checkpoint(file, message):
            return "\(file): \(message)"
        }
    }
}
