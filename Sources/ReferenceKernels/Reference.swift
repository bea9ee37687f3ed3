// The namespace of the naive reference kernels.

/// Naive, obviously-correct CPU kernels over NHWC float32 tensors: the oracle of every test and the
/// baseline of every benchmark.
///
/// Every function is a plain loop nest over flat `[Float]` buffers with computed indices, accumulating
/// in `Float` in a stated order, so its result is fully determined and easy to check by hand.
/// Layouts follow PyTorch wherever weights are involved (conv `[cout, cin/groups, kh, kw]`, linear
/// `[out, in]`); activations are NHWC (`RefTensor`).
///
/// Invalid arguments (mismatched shapes, wrong buffer sizes, non-positive strides, ...) are
/// programmer errors: they stop the program through `precondition` with a message naming the
/// function and the values involved. Nothing here throws.
public enum Reference {}
