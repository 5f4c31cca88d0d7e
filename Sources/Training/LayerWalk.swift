import Engine
import Models

/// Visits `layer` and every layer nested in it, containers included, reaching the inner sequences that
/// `children` flattens away (a residual's body and shortcut, a concat's branches, a block's stages): the one
/// walk behind attaching the bench's profiler and the probes' observer.
func forEachLayer(in layer: any Layer, _ visit: (any Layer) -> Void) {
    visit(layer)
    switch layer {
    case let sequential as Sequential:
        for (_, child) in sequential.layers { forEachLayer(in: child, visit) }
    case let residual as Residual:
        forEachLayer(in: residual.body, visit)
        if let (_, shortcut) = residual.shortcut { forEachLayer(in: shortcut, visit) }
    case let concat as Concat:
        for branch in concat.branches { forEachLayer(in: branch, visit) }
    case let split as SplitConcat:
        forEachLayer(in: split.body, visit)
    case let se as SqueezeExcite:
        forEachLayer(in: se.gate, visit)
    case let block as Block:
        for stage in block.stages { forEachLayer(in: stage.layer, visit) }
    default:
        break
    }
}
