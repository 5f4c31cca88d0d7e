/// The xterm 256-colour palette: 16 system colours, a 6x6x6 cube (16...231) and a 24-step grey ramp (232...255).
public enum Palette {
    static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]

    /// The RGB value xterm shows for a palette index.
    public static func rgb(index: UInt8) -> (r: Int, g: Int, b: Int) {
        let i = Int(index)
        switch i {
        case 0..<16:
            let system: [(Int, Int, Int)] = [
                (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
                (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255),
                (255, 0, 255), (0, 255, 255), (255, 255, 255)]
            return system[i]
        case 16..<232:
            let c = i - 16
            return (cubeLevels[c / 36], cubeLevels[(c / 6) % 6], cubeLevels[c % 6])
        default:
            let v = 8 + (i - 232) * 10
            return (v, v, v)
        }
    }

    /// The nearest palette entry among the cube and the grey ramp (never the 16 system colours, which themes change).
    public static func truecolorTo256(r: Int, g: Int, b: Int) -> UInt8 {
        func level(_ v: Int) -> Int {   // index of the nearest cube level
            var best = 0
            for k in 1..<6 where abs(cubeLevels[k] - v) < abs(cubeLevels[best] - v) { best = k }
            return best
        }
        let (cr, cg, cb) = (level(r), level(g), level(b))
        let cube = 16 + 36 * cr + 6 * cg + cb
        let cubeError = sq(cubeLevels[cr] - r) + sq(cubeLevels[cg] - g) + sq(cubeLevels[cb] - b)
        let mean = (r + g + b) / 3
        let greyStep = min(23, max(0, (mean - 3) / 10))
        let greyValue = 8 + greyStep * 10
        let greyError = sq(greyValue - r) + sq(greyValue - g) + sq(greyValue - b)
        return UInt8(greyError < cubeError ? 232 + greyStep : cube)
    }

    /// The nearest of the 8 basic colours (0...7) for an RGB value, judged by which channels are bright.
    public static func nearestBasic(r: Int, g: Int, b: Int) -> UInt8 {
        let basics: [(Int, Int, Int)] = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238),
                                         (205, 0, 205), (0, 205, 205), (229, 229, 229)]
        var best = 0, bestError = Int.max
        for (k, c) in basics.enumerated() {
            let e = sq(c.0 - r) + sq(c.1 - g) + sq(c.2 - b)
            if e < bestError { best = k; bestError = e }
        }
        return UInt8(best)
    }

    public static func nearestBasic(index: UInt8) -> UInt8 {
        if index < 8 { return index }
        if index < 16 { return index - 8 }
        let c = rgb(index: index)
        return nearestBasic(r: c.r, g: c.g, b: c.b)
    }

    /// A heat ramp for shading (0 = cold, 1 = hot) in the 256 palette: dark blue through cyan and yellow to red.
    public static func heat(_ t: Double) -> UInt8 {
        let ramp: [UInt8] = [17, 18, 19, 25, 31, 37, 43, 79, 115, 151, 187, 186, 185, 184, 178, 172, 166, 160]
        let k = Int((min(1, max(0, t)) * Double(ramp.count - 1)).rounded())
        return ramp[k]
    }

    private static func sq(_ v: Int) -> Int { v * v }
}
