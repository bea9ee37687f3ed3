extension RefTrain {
    /// Dropout with a given mask: y[i] = keep(i) ? x[i] * (1 / (1 - p)) : 0, the scale rounded
    /// once to T from its Double value (0 for p = 1). Its own backward: the same call on dy with
    /// the same mask (d y[i] / d x[i] is the scale or 0).
    public static func dropout<T>(_ x: RefTensorOf<T>, p: Double, keep: (Int) -> Bool) -> RefTensorOf<T> {
        precondition(p >= 0 && p <= 1, "RefTrain.dropout: p = \(p)")
        let scale = p < 1 ? T(1 / (1 - p)) : 0
        var y = x
        for i in y.data.indices { y.data[i] = keep(i) ? x.data[i] * scale : 0 }
        return y
    }
}
