import Testing
@testable import Training

@Suite struct RecipeTests {
    private func resolve(_ model: String, _ family: String, _ o: TrainingOverrides = TrainingOverrides()) throws -> TrainingConfig {
        try TrainingConfig.resolve(model: model, family: family, dataset: "cifar10", dataDirectory: nil, overrides: o)
    }

    @Test func seedRecipesMatchTheSeeds() throws {
        let mycnn = try resolve("mycnn", "MyCNN")
        #expect(mycnn.optimizer == .adam && mycnn.learningRate == 0.01 && mycnn.batchSize == 100 && mycnn.epochs == 10)
        let resnet = try resolve("resnet18", "ResNet")
        #expect(resnet.optimizer == .adam && resnet.learningRate == 0.001 && resnet.batchSize == 100)
        let se = try resolve("se_resnet18", "SE-ResNet")
        #expect(se.learningRate == 0.001)
        let mobile = try resolve("mobilenet_v1", "MobileNetV1")
        #expect(mobile.optimizer == .adam && mobile.learningRate == 0.01 && mobile.batchSize == 64 && mobile.epochs == 50)
        #expect(mobile.validationFraction == 0.1 && mobile.seed == 42 && mobile.schedule.hasPrefix("step"))
        let v1 = try resolve("shufflenet_v1", "ShuffleNetV1")
        #expect(v1.optimizer == .sgd && v1.momentum == 0.9 && v1.weightDecay == 4e-5 && v1.labelSmoothing == 0.1)
        #expect(v1.batchSize == 128 && v1.dropLast && v1.epochs == 250 && v1.learningRate == 0.05)
        let v2 = try resolve("shufflenet_v2", "ShuffleNetV2")
        #expect(v2.optimizer == .sgd && v2.learningRate == 0.1 && v2.momentum == 0.9 && v2.weightDecay == 5e-4)
        #expect(v2.batchSize == 128 && v2.epochs == 20 && v2.schedule.hasPrefix("plateau"))
        let eff = try resolve("efficientnetv2_s", "EfficientNetV2")
        #expect(eff.optimizer == .adamw)
    }

    @Test func everyFlagOverridesTheRecipe() throws {
        var o = TrainingOverrides()
        o.epochs = 3; o.batchSize = 7; o.optimizer = "SGD"; o.learningRate = 0.2; o.momentum = 0.5
        o.weightDecay = 0.1; o.labelSmoothing = 0.2; o.augmentation = "flip"; o.seed = 9; o.threads = 1
        o.limitTrain = 50; o.limitTest = 20
        let c = try resolve("mobilenet_v1", "MobileNetV1", o)
        #expect(c.epochs == 3 && c.batchSize == 7 && c.optimizer == .sgd && c.learningRate == 0.2 && c.momentum == 0.5)
        #expect(c.weightDecay == 0.1 && c.labelSmoothing == 0.2 && c.augmentation == "flip" && c.seed == 9)
        #expect(c.threads == 1 && c.limitTrain == 50 && c.limitTest == 20)
        #expect(c.schedule == Recipe.seed(family: "MobileNetV1")?.schedule)
    }

    @Test func aShortRunShrinksTheRecipesWarmUp() throws {
        var o = TrainingOverrides()
        o.epochs = 2
        let c = try resolve("shufflenet_v1", "ShuffleNetV1", o)
        #expect(c.schedule.hasPrefix("cosine:warmup=0:min=0.0005"))
        o.schedule = "cosine:warmup=4"
        #expect(throws: TrainingError.self) { try resolve("shufflenet_v1", "ShuffleNetV1", o) }
    }

    @Test func switchingOptimizerDropsTheRecipesMomentum() throws {
        var o = TrainingOverrides()
        o.optimizer = "adam"
        #expect(try resolve("shufflenet_v2", "ShuffleNetV2", o).momentum == 0)
    }

    @Test func badFlagsNameTheFlag() {
        func flag(_ change: (inout TrainingOverrides) -> Void) -> String? {
            var o = TrainingOverrides()
            change(&o)
            do { _ = try resolve("resnet18", "ResNet", o) } catch let TrainingError.invalidFlag(flag, _) { return flag } catch {
                return "other: \(error)"
            }
            return nil
        }
        #expect(flag { $0.epochs = -1 } == "--epochs")
        #expect(flag { $0.learningRate = -0.1 } == "--lr")
        #expect(flag { $0.learningRate = .nan } == "--lr")
        #expect(flag { $0.optimizer = "rmsprop" } == "--optimizer")
        #expect(flag { $0.augmentation = "rotate" } == "--augment")
        #expect(flag { $0.batchSize = 0 } == "--batch-size")
        #expect(flag { $0.schedule = "bogus" } == "--schedule")
        #expect(flag { $0.momentum = 1.5 } == "--momentum")
        #expect(flag { _ in } == nil)
        #expect(throws: TrainingError.self) {
            try TrainingConfig.resolve(model: "x", family: "NoSuchFamily", dataset: "d", dataDirectory: nil, overrides: TrainingOverrides())
        }
    }
}
