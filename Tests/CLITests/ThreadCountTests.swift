import Foundation
import Testing

/// Every kernel splits its work into at most `--threads` parts (images, channels or elements; README, "How it
/// is built"), and the parts must cover the work whatever their number, including more threads than the
/// machine has cores. Each zoo model takes one SGD step on 32 images and evaluates 64 with 1, 2, 3 and 16
/// threads. The train loss (the forward) agrees to rounding. The test loss after the step (the backward,
/// through the update) agrees to 1e-3: a weight gradient summed as N partial sums rounds differently for
/// each N, and BatchNorm's backward amplifies that (ShuffleNetV1's loss moves by 1.7e-4 of itself with 16
/// threads, the others' by under 1e-5), while a part of the batch left out or counted twice moves the
/// update by 1/16 or more, and the loss by a few times 1e-3.
@Suite struct ThreadCountTests {
    static let models = ["mycnn", "resnet", "se-resnet", "vgg11", "mobilenet-v1", "shufflenet-v1-g3-1.0x",
                         "shufflenet-v2-0.5x", "efficientnet-v2-s"]

    @Test(arguments: models)
    func lossesAgreeForAnyThreadCount(model: String) throws {
        let box = try TrainCommandTests.Sandbox()
        defer { box.remove() }
        var losses: [Int: (train: Double, test: Double)] = [:]
        for threads in [1, 2, 3, 16] {
            let run = try box.run(["train", "--model", model, "--dataset", "fashion-mnist", "--epochs", "1",
                                   "--limit-train", "32", "--limit-test", "64", "--batch-size", "32", "--seed", "5",
                                   "--optimizer", "sgd", "--momentum", "0", "--lr", "0.2", "--schedule", "constant",
                                   "--threads", String(threads), "--json"])
            try #require(run.status == 0, "\(model), \(threads) threads: \(run.stderr)")
            let epoch = try #require(try TrainCommandTests.jsonLines(run.stdout).first)
            losses[threads] = (try #require(epoch["train_loss"] as? Double), try #require(epoch["test_loss"] as? Double))
        }
        let one = try #require(losses[1])
        for (threads, loss) in losses {
            #expect(abs(loss.train - one.train) <= 1e-5 * abs(one.train), "\(model): train loss \(loss.train) with \(threads) threads, \(one.train) with 1")
            #expect(abs(loss.test - one.test) <= 1e-3 * abs(one.test), "\(model): test loss \(loss.test) with \(threads) threads, \(one.test) with 1")
        }
    }
}
