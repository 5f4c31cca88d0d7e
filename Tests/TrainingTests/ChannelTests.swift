import Foundation
import Testing
@testable import Training

private func step(_ n: Int) -> TrainingEvent {
    .step(StepEvent(epoch: 1, step: n, stepsPerEpoch: 100, globalStep: n, totalSteps: 100, etaSeconds: nil))
}

private func isReadable(_ fd: Int32) -> Bool {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&p, 1, 0) > 0
}

@Suite struct ChannelTests {
    @Test func unreadStepEventsCoalesceAndKeepOrder() {
        let channel = EventChannel()
        channel.post(step(1))
        channel.post(step(2))
        channel.post(.stateChanged(.paused))
        channel.post(step(3))
        let record = TrainingEvent.record(StepRecord(epoch: 1, step: 3, globalStep: 3, loss: 1, accuracy: 0.5,
                                                     imagesPerSecond: 10, learningRate: 0.1))
        channel.post(record)
        channel.post(.checkpointSaved(path: "x", globalStep: 3))
        channel.post(step(4))
        // Only the newest step survives, and it comes after everything posted before it; records all stay.
        #expect(channel.drain() == [.stateChanged(.paused), record, .checkpointSaved(path: "x", globalStep: 3), step(4)])
        #expect(channel.drain().isEmpty)
    }

    @Test func wakeDescriptorIsReadableExactlyWhileEventsWait() {
        let channel = EventChannel()
        #expect(!isReadable(channel.wakeFileDescriptor))
        channel.post(.stateChanged(.running))
        #expect(isReadable(channel.wakeFileDescriptor))
        #expect(channel.waitForEvents(timeout: 0))
        _ = channel.drain()
        #expect(!isReadable(channel.wakeFileDescriptor))
        #expect(!channel.waitForEvents(timeout: 0))
    }

    @Test func aSlowConsumerLosesOnlyStepEvents() {
        let channel = EventChannel()
        let evaluations = 2_000
        // The producer never waits: thousands of posts with nobody reading, far more than a pipe holds.
        let producer = Thread {
            for i in 1...evaluations {
                channel.post(step(i))
                channel.post(.learningRateChanged(Float(i), globalStep: i, manual: false))
            }
            channel.post(.finished(testAccuracy: 1))
        }
        producer.start()
        var received: [TrainingEvent] = []
        while !received.contains(.finished(testAccuracy: 1)) {
            channel.waitForEvents(timeout: 1)
            received += channel.drain()
            usleep(200)  // a slow consumer
        }
        let changes = received.compactMap { event -> Int? in
            if case let .learningRateChanged(_, globalStep, _) = event { return globalStep }
            return nil
        }
        #expect(changes == Array(1...evaluations))
        let steps = received.filter { if case .step = $0 { return true } else { return false } }
        #expect(steps.count <= evaluations)
    }

    @Test func commandsArriveInOrderAndWakeAWaiter() {
        let queue = CommandQueue()
        queue.send(.pause)
        queue.send(.setLearningRate(0.5))
        queue.waitForCommand()  // returns at once: something was sent
        #expect(queue.drain() == [.pause, .setLearningRate(0.5)])
        #expect(queue.drain().isEmpty)
    }
}
