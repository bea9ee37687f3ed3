import MobileKernels

// Training with the Swift API (README's "Training" section; compiled by `make test`, not run:
// it needs Debian's Fashion-MNIST and a few minutes).
func trainOnFashionMNIST(epochs: Int, checkpoint: String) throws {
    let train = try ImageDataset.fashionMNIST(.train), test = try ImageDataset.fashionMNIST(.test)
    let architecture = try Architecture.make(.mobileNetV3Small, numClasses: 10)
    let trainer = try Trainer(architecture, weights: .initialization(seed: 0), data: train,
                              options: Trainer.Options(epochs: epochs, batch: 128,
                                                       sgd: SGD.Options(learningRate: 0.05, momentum: 0.9, weightDecay: 5e-4)))
    for _ in 0..<epochs {
        let epoch = try trainer.trainEpoch()
        print("epoch \(epoch.epoch): loss \(epoch.loss), test accuracy \(try trainer.evaluate(test)), \(epoch.imagesPerSecond) images/s")
    }
    try trainer.save(checkpoint)  // PyTorch: model.load_state_dict(safetensors.torch.load_file(checkpoint))
}
