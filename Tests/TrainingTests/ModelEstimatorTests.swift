import Testing
@testable import Training

/// The model picker's estimates, made with the training step.
@Suite struct ModelEstimatorTests {
    @Test func countsAndTimesARealTrainingStep() {
        let job = ModelEstimator.Job(model: "mycnn", inputShape: [1, 28, 28], classes: 10, batchSize: 4, timeSteps: true)
        let estimate = ModelEstimator.estimate(job, previous: nil)
        #expect(estimate.error == nil && estimate.parameters ?? 0 > 0 && estimate.macs ?? 0 > 0)
        #expect(estimate.batchSize == 4 && estimate.stepSeconds ?? 0 > 0)
        let counted = ModelEstimator.estimate(
            ModelEstimator.Job(model: "mycnn", inputShape: [1, 28, 28], classes: 10, batchSize: 4, timeSteps: false), previous: nil)
        #expect(counted.parameters == estimate.parameters && counted.stepSeconds == nil)
    }

    @Test func aModelThatCannotTakeTheImagesSaysWhy() {
        let job = ModelEstimator.Job(model: "mycnn", inputShape: [1, 2, 2], classes: 10, batchSize: 4, timeSteps: true)
        let estimate = ModelEstimator.estimate(job, previous: nil)
        #expect(estimate.error?.contains("at least 4x4 pixels") == true && estimate.stepSeconds == nil)
    }
}
