import Foundation

/// Reads spec text into `NetworkSpec`: comments and blank lines dropped, each line split into its name,
/// kind, values and options, children attached by indentation. It knows the grammar, not the layers:
/// whether a kind exists and its values fit is `NetworkSpecBuilder`'s business.
public enum NetworkSpecReader {
    /// Settings of the whole network, written at the top level (not layers).
    static let settings = ["input-size", "width", "family"]
    /// Levels of layers under layers; the zoo's deepest spec nests 4.
    static let maximumDepth = 64

    /// Reads the spec file at `path`; errors name the path as given.
    public static func read(file path: String) throws -> NetworkSpec {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw NetworkSpecError(file: path, line: nil, "no such spec file")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw NetworkSpecError(file: path, line: nil, "cannot be read as UTF-8 text")
        }
        return try read(text, file: path)
    }

    /// The spec files in `directory` as paths under it (`models/tiny.cnn`), sorted; none when it is missing.
    /// The model picker lists those of `./models/` after the zoo.
    public static func files(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix("." + NetworkSpec.fileExtension) }.sorted().map { directory + "/" + $0 }
    }

    public static func read(_ text: String, file: String) throws -> NetworkSpec {
        func fail(_ line: Int, _ message: String) -> NetworkSpecError { NetworkSpecError(file: file, line: line, message) }

        // (indent, node) for each line, then folded into a tree by indentation.
        var lines: [(indent: Int, node: SpecNode)] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = i + 1
            let code = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if code.contains("\t") { throw fail(number, "a tab; indent with spaces") }
            let content = code.trimmingCharacters(in: .whitespacesAndNewlines)
            if content.isEmpty { continue }
            let indent = raw.prefix { $0 == " " }.count
            lines.append((indent, try node(content, line: number, fail)))
        }

        // Each line's parent is the nearest line above with a smaller indent; siblings share one indent.
        let top = SpecNode(line: 0, name: nil, kind: "", values: [], options: [], children: [])
        var stack: [(indent: Int, node: SpecNode, childIndent: Int?)] = [(-1, top, nil)]
        func closeTop() {
            let done = stack.removeLast().node
            stack[stack.count - 1].node.children.append(done)
        }
        for (indent, node) in lines {
            while indent <= stack[stack.count - 1].indent { closeTop() }
            if let expected = stack[stack.count - 1].childIndent, expected != indent {
                throw fail(node.line, "indented by \(indent) spaces, but the lines above it at this level by \(expected)")
            }
            stack[stack.count - 1].childIndent = indent
            // Building recurses once per level: a file nested thousands deep must not overflow the stack.
            guard stack.count <= maximumDepth else { throw fail(node.line, "nested more than \(maximumDepth) levels deep") }
            stack.append((indent, node, nil))
        }
        while stack.count > 1 { closeTop() }

        var spec = NetworkSpec(file: file, layers: [])
        for node in stack[0].node.children {
            switch node.kind {
            case "input-size":
                guard let size = single(node, fail).flatMap(Int.init), size > 0, size <= 4096 else {
                    throw fail(node.line, "input-size takes one whole number of pixels up to 4096 (input-size 32)")
                }
                spec.inputSize = size
            case "width":
                guard let width = single(node, fail).flatMap(Double.init), width > 0, width <= 64 else {
                    throw fail(node.line, "width takes one positive multiplier up to 64 (width 0.5)")
                }
                spec.width = width
            case "family":
                guard let family = single(node, fail) else { throw fail(node.line, "family takes one name (family ResNet)") }
                spec.family = family
            default:
                spec.layers.append(node)
                continue
            }
            if node.name != nil || !node.children.isEmpty {
                throw fail(node.line, "\(node.kind) is a setting of the whole network: no name, nothing indented under it")
            }
        }
        for node in spec.layers { try rejectNestedSettings(node, fail) }
        guard !spec.layers.isEmpty else { throw NetworkSpecError(file: file, line: nil, "no layers") }
        return spec
    }

    /// One line without its indentation: `[NAME:] KIND [VALUE ...] [KEY=VALUE ...]`.
    static func node(_ content: String, line: Int, _ fail: (Int, String) -> NetworkSpecError) throws -> SpecNode {
        var tokens = content.split(separator: " ").map(String.init)
        var name: String?
        if tokens[0].hasSuffix(":") {
            let n = String(tokens.removeFirst().dropLast())
            guard !n.isEmpty, n.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw fail(line, "'\(n):' is not a layer name (letters, digits and _)")
            }
            guard !tokens.isEmpty else { throw fail(line, "'\(n):' needs a layer kind after the name (\(n): conv 16 3)") }
            name = n
        }
        let kind = tokens.removeFirst()
        guard !kind.contains("="), !kind.hasSuffix(":") else {
            throw fail(line, "'\(kind)' is not a layer kind; a line is [NAME:] KIND [VALUE ...] [OPTION=VALUE ...]")
        }
        var values: [String] = []
        var options: [(key: String, value: String)] = []
        for token in tokens {
            if let eq = token.firstIndex(of: "=") {
                let (key, value) = (String(token[..<eq]), String(token[token.index(after: eq)...]))
                guard !key.isEmpty, !value.isEmpty else { throw fail(line, "'\(token)' is not an option (key=value)") }
                guard !options.contains(where: { $0.key == key }) else { throw fail(line, "\(key) is given twice") }
                options.append((key, value))
            } else {
                guard options.isEmpty else {
                    throw fail(line, "'\(token)' comes after an option; values go before the key=value options")
                }
                values.append(token)
            }
        }
        return SpecNode(line: line, name: name, kind: kind, values: values, options: options, children: [])
    }

    private static func single(_ node: SpecNode, _ fail: (Int, String) -> NetworkSpecError) -> String? {
        node.values.count == 1 && node.options.isEmpty ? node.values[0] : nil
    }

    private static func rejectNestedSettings(_ node: SpecNode, _ fail: (Int, String) -> NetworkSpecError) throws {
        for child in node.children {
            if settings.contains(child.kind) {
                throw fail(child.line, "\(child.kind) is a setting of the whole network: write it at the top level, not indented")
            }
            try rejectNestedSettings(child, fail)
        }
    }
}
